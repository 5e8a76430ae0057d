"""Where the model server's logs live: folders of the artifact store."""

from __future__ import annotations

from relayml.config import Settings

__all__ = ["log_urls", "requests_url"]


def log_urls(settings: Settings) -> tuple[str, str]:
    """(prediction log URL, outcome log URL) under the artifact store's root."""
    root = settings.resolved_artifacts_url.rstrip("/")
    return f"{root}/predictions", f"{root}/outcomes"


def requests_url(settings: Settings) -> str:
    """The request log (status and time of each prediction request) under the artifact root."""
    return settings.resolved_artifacts_url.rstrip("/") + "/requests"
