"""Who is calling, and may they: every route of /api/v1 declares its action with ``requires``.

``requires(action)`` is a FastAPI dependency. It finds the caller's identity (a bearer token; with
auth off, the local user), checks the action against the permission table in the project the
route names, and leaves the identity on ``request.state.identity`` for ``backend_of``. A route
without a ``requires`` fails tests/integration/test_route_permissions.py (deny by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from relayml.domain.identity import Identity
from relayml.domain.permissions import ACTIONS, PUBLIC, is_global
from relayml.errors import Unauthenticated
from relayml.identity import access
from relayml.identity.tokens import verify_token

__all__ = ["ProjectOf", "auth_enabled", "identity_of", "requires"]

# How a route names its project: from its path parameters (and the backend, for a run's project).
ProjectOf = Callable[[Any, dict[str, Any]], str | None]


def _project_param(_backend: Any, params: dict[str, Any]) -> str | None:
    return params.get("project")


def auth_enabled(request: Request) -> bool:
    """True when the app requires identity (``relay server`` without --no-auth)."""
    return bool(getattr(request.app.state, "auth", False))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def identity_of(request: Request) -> Identity:
    """The caller's identity (Unauthenticated when auth is on and none is valid)."""
    found = getattr(request.state, "identity", None)
    if found is not None:
        return found  # type: ignore[no-any-return]
    backend = request.app.state.backend
    if not auth_enabled(request):
        # One person on loopback (or tests): the local user, or the name the client sends.
        name = request.headers.get("x-relay-user") or backend.settings.user
        return Identity(name=name, is_admin=True, via="local")
    secret = _bearer(request)
    if secret is None:
        # The web pages' session cookie (api/sessions.py), when the app offers sessions.
        session_identity = getattr(request.app.state, "session_identity", None)
        found = session_identity(request) if session_identity is not None else None
        if found is not None:
            return found  # type: ignore[no-any-return]
        raise Unauthenticated(
            "sign in first: send a personal API token as `Authorization: Bearer <token>` "
            "(set RELAY_TOKEN for the CLI and SDK; `relay tokens create` makes one)."
        )
    identity = verify_token(backend.store, secret)
    if identity is None or "api" not in identity.scopes:
        raise Unauthenticated(
            "the token is unknown, revoked, expired, of a disabled user or not for the API; "
            "create a new one with `relay tokens create`."
        )
    return identity


def requires(action: str, project_of: ProjectOf = _project_param) -> Any:
    """The dependency a route declares: the action it takes and how it names its project."""
    if action not in ACTIONS and not is_global(action):
        raise KeyError(f"unknown action {action!r} (domain/permissions.py)")

    async def dependency(request: Request) -> Identity:
        if action == PUBLIC:
            return Identity(name="anonymous", via="public")
        backend = request.app.state.backend
        identity = await run_in_threadpool(identity_of, request)
        request.state.identity = identity
        if not is_global(action) or not identity.is_admin:
            project = project_of(backend, dict(request.path_params))
            await run_in_threadpool(access.check, backend.store, identity, action, project)
        return identity

    dependency.relay_action = action  # type: ignore[attr-defined]
    return Depends(dependency)
