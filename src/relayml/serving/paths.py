"""Where the model server's logs live: folders of the artifact store."""

from __future__ import annotations

from relayml.config import Settings

__all__ = ["log_urls"]


def log_urls(settings: Settings) -> tuple[str, str]:
    """(prediction log URL, outcome log URL) under the artifact store's root."""
    root = settings.resolved_artifacts_url.rstrip("/")
    return f"{root}/predictions", f"{root}/outcomes"
