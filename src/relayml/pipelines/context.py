"""Where pipelines record when a call names no backend or project.

The pipelines package never reaches up for them: an interface installs a provider (the SDK
installs the backend and project of ``relay.init()``), and a call may always pass its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from relayml.domain.ports import Backend
from relayml.errors import InvalidInput

__all__ = ["default_backend", "default_project", "use_defaults"]

Provider = Callable[[], tuple[Backend, str]]

_provider: Provider | None = None
_lock = threading.Lock()


def use_defaults(provider: Provider | None) -> None:
    """Set what gives (backend, project) to pipeline calls that pass none (None: nothing)."""
    global _provider
    with _lock:
        _provider = provider


def _defaults() -> tuple[Backend, str]:
    with _lock:
        provider = _provider
    if provider is None:
        raise InvalidInput(
            "no backend to record the pipeline run in: call relay.init() first "
            "(import relayml as relay), or pass backend= and project=."
        )
    return provider()


def default_backend(backend: Backend | None = None) -> Backend:
    """The backend given, else the installed default."""
    return backend if backend is not None else _defaults()[0]


def default_project(project: str | None = None) -> str:
    """The project given, else the installed default."""
    return project if project is not None else _defaults()[1]
