"""Who is calling, and may they: every route of /api/v1 declares its action with ``requires``.

``requires(action)`` is a FastAPI dependency. It finds the caller's identity (a bearer token, a
session cookie when the sign-in routes are mounted; with auth off, the local user), checks the
action against the permission table in the project the route names, and leaves the identity on
``request.state.identity`` for ``backend_of``. A route without a ``requires`` fails
tests/integration/test_route_permissions.py (deny by default).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy import bindparam, select
from starlette.concurrency import run_in_threadpool

from relayml.domain.identity import Identity
from relayml.domain.permissions import ACTIONS, PUBLIC, is_global
from relayml.errors import PermissionDenied, Unauthenticated
from relayml.identity import access
from relayml.identity.tokens import verify_token
from relayml.store.fast import FastStatement
from relayml.store.schema import projects, runs
from relayml.tracking.state import require_run

__all__ = [
    "DeclaredRoute",
    "ProjectOf",
    "acting_identity",
    "any_project",
    "auth_enabled",
    "authorize",
    "check",
    "declared_routes",
    "identity_of",
    "pipeline_run_project",
    "project_param",
    "requires",
    "run_project",
]

# How a route names its project: from its path parameters (and the store, for a run's project).
# None: the route is about no single project (the action is checked "in any project").
ProjectOf = Callable[[Any, dict[str, Any]], str | None]


def project_param(name: str = "project") -> ProjectOf:
    """The project is the path parameter ``name`` (``/projects/{project}/...``)."""

    def of(_backend: Any, params: dict[str, Any]) -> str | None:
        value = params.get(name)
        return str(value) if value is not None else None

    of.__name__ = f"param_{name}"
    return of


def any_project(_backend: Any, _params: dict[str, Any]) -> str | None:
    """The route is about no single project (blobs, lineage, the global audit log)."""
    return None


_RUN_PROJECTS: dict[tuple[str, str], str] = {}  # runs never change project: remembered
_RUN_PROJECTS_MAX = 100_000
# Built once: the first call about each run (an MLflow client's first log after create) asks it.
_PROJECT_OF_RUN = FastStatement(
    select(projects.c.name)
    .join(runs, runs.c.project_id == projects.c.id)
    .where(runs.c.id == bindparam("run_id"))
)


def run_project(backend: Any, params: dict[str, Any]) -> str | None:
    """The project of ``/runs/{run_id}...`` (NotFound for an unknown run)."""
    run_id = str(params["run_id"])
    store = backend.store
    key = (str(store.engine.url), run_id)
    found = _RUN_PROJECTS.get(key)
    if found is not None:
        return found
    with store.read() as conn:
        row = _PROJECT_OF_RUN.first(conn, {"run_id": run_id})
        name = None if row is None else row[0]
        if name is None:
            require_run(conn, run_id)  # raises the run's own NotFound message
    if len(_RUN_PROJECTS) >= _RUN_PROJECTS_MAX:
        _RUN_PROJECTS.clear()
    _RUN_PROJECTS[key] = str(name)
    return str(name)


def pipeline_run_project(backend: Any, params: dict[str, Any]) -> str | None:
    """The project of ``/pipeline-runs/{run_id}...`` (an id or a unique prefix)."""
    return str(backend.get_pipeline_run(str(params["run_id"])).project)


def auth_enabled(request: Request) -> bool:
    """True when the app requires identity (``relay server`` without --no-auth)."""
    return bool(getattr(request.app.state, "auth", False))


def _credentials(request: Request) -> tuple[str | None, str | None]:
    """(user name or None, token or None): a bearer token, or HTTP basic with the token as the
    password (what MLflow's client sends for MLFLOW_TRACKING_USERNAME/PASSWORD)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return None, value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
        return (user or None), (password or None)
    return None, None


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
    user, secret = _credentials(request)
    if secret is None:
        # A signed-in browser: the sign-in routes, when mounted, read their session cookie.
        session_identity = getattr(request.app.state, "session_identity", None)
        if callable(session_identity):
            session = session_identity(request)
            if session is not None:
                return session  # type: ignore[no-any-return]
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
    if user is not None and user != identity.name:
        raise Unauthenticated(
            f"the user name {user!r} is not the token's user: send the token's own user name "
            "(or none) with the token as the password."
        )
    return identity


def acting_identity(request: Request) -> Identity:
    """The identity ``requires`` established for this request (found afresh if none did)."""
    found: Identity | None = getattr(request.state, "identity", None)
    if found is None:
        found = identity_of(request)
        request.state.identity = found
    return found


def check(request: Request, action: str, project: str | None) -> None:
    """Inside a route: may the caller take ``action`` in ``project``? (PermissionDenied if not)."""
    access.check(request.app.state.backend.store, acting_identity(request), action, project)


def _check_any(store: Any, identity: Identity, actions: Sequence[str], project: str | None) -> None:
    denied: PermissionDenied | None = None
    for action in actions:
        try:
            access.check(store, identity, action, project)
            return
        except PermissionDenied as exc:
            denied = denied or exc
    assert denied is not None
    raise denied


def authorize(
    request: Request, actions: Sequence[str], resolve: ProjectOf, path_params: dict[str, Any]
) -> Identity:
    """The caller's identity, once it may take one of the actions (the first one names the
    route's) in the project `resolve` finds from the path parameters; else Unauthenticated or
    PermissionDenied. It reads the database: call it off the event loop."""
    action = actions[0]
    backend = request.app.state.backend
    identity = identity_of(request)
    request.state.identity = identity
    if not is_global(action) or not identity.is_admin:
        project = None if is_global(action) else resolve(backend, dict(path_params))
        _check_any(backend.store, identity, actions, project)
    return identity


def requires(action: str, project_of: ProjectOf | None = None, *, also: Sequence[str] = ()) -> Any:
    """The dependency a route declares: the action it takes and how it names its project.

    ``also`` names lesser actions that let the call through too; the route then checks, with
    ``check``, the one its request body needs (a PATCH of a project's KPIs alone needs
    project.kpis, of anything else project.update).
    """
    for name in (action, *also):
        if name not in ACTIONS and not is_global(name):
            raise KeyError(f"unknown action {name!r} (domain/permissions.py)")
    resolve = project_of or project_param()
    actions = (action, *also)

    async def dependency(request: Request) -> Identity:
        if action == PUBLIC:
            return Identity(name="anonymous", via="public")
        # one trip to a worker thread: it reads the database
        return await run_in_threadpool(authorize, request, actions, resolve, request.path_params)

    dependency.relay_action = action  # type: ignore[attr-defined]
    dependency.relay_also = tuple(also)  # type: ignore[attr-defined]
    dependency.relay_project_of = resolve  # type: ignore[attr-defined]
    return Depends(dependency)


class DeclaredRoute(NamedTuple):
    """One route of an app with what it declared (action None: it declared nothing)."""

    method: str
    path: str
    action: str | None
    also: tuple[str, ...]
    project_of: ProjectOf | None


def _declaration(dependencies: Sequence[Any]) -> Any:
    for dep in dependencies:
        call = getattr(dep, "dependency", None) or getattr(dep, "call", None)
        if call is not None and hasattr(call, "relay_action"):
            return call
    return None


def declared_routes(app: Any) -> list[DeclaredRoute]:
    """Every HTTP route of ``app`` (included routers walked) with the action it declares."""
    found: list[DeclaredRoute] = []

    def walk(routes: Sequence[Any], prefix: str, inherited: Sequence[Any]) -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:  # FastAPI >= 0.16x: an included router, not copied routes
                context = route.include_context
                walk(original.routes, prefix + context.prefix, [*inherited, *context.dependencies])
                continue
            methods: set[str] = set(getattr(route, "methods", None) or ())
            methods = methods - {"HEAD"} or methods  # HEAD goes with GET
            if not isinstance(route, APIRoute):
                for method in sorted(methods):
                    found.append(DeclaredRoute(method, prefix + route.path, None, (), None))
                continue
            call = _declaration([*inherited, *route.dependencies, *route.dependant.dependencies])
            for method in sorted(methods):
                found.append(
                    DeclaredRoute(
                        method,
                        prefix + route.path,
                        getattr(call, "relay_action", None),
                        getattr(call, "relay_also", ()),
                        getattr(call, "relay_project_of", None),
                    )
                )

    walk(app.routes, "", [])
    return found
