"""Which transport carries the Backend port: HTTP when RELAY_SERVER_URL is set, else in-process.

Only the chosen transport is imported, so a client of a relay server never loads the store
(SQLAlchemy, Alembic) and an in-process user never loads httpx. `open_tracking` is for what needs
only projects, experiments, runs and artifacts: in-process it loads none of the other services.
"""

from __future__ import annotations

from relayml.config import Settings
from relayml.domain.ports import Backend
from relayml.domain.ports_tracking import TrackingPort

__all__ = ["open_backend", "open_tracking"]


def open_backend(settings: Settings) -> Backend:
    """The backend the settings ask for: HTTP when RELAY_SERVER_URL is set, else in-process."""
    if settings.server_url:
        from relayml.client import HttpBackend

        return HttpBackend(settings)
    from relayml.backend import LocalBackend

    return LocalBackend(settings)


def open_tracking(settings: Settings) -> TrackingPort:
    """Like open_backend, for tracking only: in-process, a LocalTracking (no other service)."""
    if settings.server_url:
        from relayml.client import HttpBackend

        return HttpBackend(settings)
    from relayml.tracking.local import LocalTracking

    return LocalTracking(settings)
