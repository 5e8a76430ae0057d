"""What every MLflow route shares: the request context, body parsing, paging and registration.

A route is declared once with its method, path, action and a plain function taking the context
and the request's fields (the JSON body of a POST, the query of a GET); ``add_routes`` mounts it
with ``requires(action, any_project)``, and the function checks the action again in the project
it finds (``Ctx.check``), like the routes of /api/v1 that name their project in the body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import acting_identity, any_project, check, requires
from relayml.api.mlflow.errors import MlflowError
from relayml.backend import LocalBackend
from relayml.domain.identity import Identity
from relayml.errors import NotFound
from relayml.identity.access import visible_projects
from relayml.interop import mlflow_experiments as experiments

__all__ = [
    "Ctx",
    "Handler",
    "Route",
    "add_routes",
    "decode_token",
    "encode_token",
    "fields",
    "ms",
    "need",
    "optional_int",
]

Handler = Callable[["Ctx", dict[str, Any]], Any]


@dataclass(frozen=True)
class Route:
    """One MLflow endpoint: method, path under the prefix, action, handler."""

    method: str
    path: str
    action: str
    handler: Handler


class Ctx:
    """The request as a route's handler sees it: the caller's backend, checks, projects."""

    def __init__(self, request: Request) -> None:
        self.request = request
        root: LocalBackend = request.app.state.backend
        self.identity: Identity = acting_identity(request)
        name = self.identity.name
        self.backend = root if name == root.actor else root.with_actor(name)
        self.store = root.store
        self.default_project = root.settings.mlflow_project

    def check(self, action: str, project: str) -> None:
        """PermissionDenied unless the caller may take action in project."""
        check(self.request, action, project)

    def visible(self) -> set[str] | None:
        """The projects the caller may see (None: every project), narrowed to one by the
        X-Relay-Project header (a relayml client's way to name a model that several projects
        hold, e.g. `relay import mlflow` setting aliases; MLflow's own clients never send it)."""
        seen = visible_projects(self.store, self.identity)
        chosen = self.request.headers.get("x-relay-project")
        if chosen is None:
            return seen
        return {chosen} if seen is None or chosen in seen else set()

    def experiment(
        self, mlflow_id: Any, action: str = "project.read"
    ) -> experiments.MlflowExperiment:
        """The experiment an MLflow id names, after checking the action in its project."""
        if mlflow_id in (None, ""):
            raise MlflowError("INVALID_PARAMETER_VALUE", "missing value for experiment_id.")
        if str(mlflow_id) == "0":
            self.ensure_default()
        exp = experiments.find(self.store, self.default_project, str(mlflow_id))
        self.check(action, exp.project)
        return exp

    def ensure_default(self) -> None:
        """Create the MLflow project and its Default experiment when missing (admins only)."""
        try:
            experiments.find_by_name(self.store, self.default_project, experiments.DEFAULT_NAME)
            return
        except NotFound:
            pass
        self.ensure_project(self.default_project)
        self.check("tracking.write", self.default_project)
        experiments.create(
            self.store,
            self.backend.actor,
            self.default_project,
            self.default_project,
            experiments.DEFAULT_NAME,
        )

    def ensure_project(self, project: str) -> None:
        """The project exists; the MLflow project is made on first use by an administrator."""
        try:
            self.backend.get_project(project)
            return
        except NotFound:
            pass
        if project != self.default_project or not self.identity.is_admin:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST",
                f"project {project!r} does not exist; an administrator creates it with "
                f"`relay projects create {project}`.",
            )
        self.backend.create_project(project, description="Experiments logged by MLflow clients.")


def ms(value: datetime | None) -> int | None:
    """Epoch milliseconds of a datetime (None stays None)."""
    return None if value is None else int(value.timestamp() * 1000)


def need(body: dict[str, Any], name: str) -> Any:
    """A required field, or INVALID_PARAMETER_VALUE naming it."""
    value = body.get(name)
    if value is None or value == "":
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"missing value for required parameter '{name}'."
        )
    return value


def optional_int(body: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """An integer field (numbers may come as strings), or INVALID_PARAMETER_VALUE."""
    value = body.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"parameter '{name}' must be an integer, got {value!r}."
        ) from None


def encode_token(offset: int) -> str | None:
    """A page token for an offset (None: no more pages)."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    """The offset a page token holds (0 for none); INVALID_PARAMETER_VALUE if it is not ours."""
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"invalid page token {token!r}.") from None
    if offset < 0:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"invalid page token {token!r}.")
    return offset


_LISTS = {"experiment_ids", "order_by", "run_ids"}


async def fields(request: Request) -> dict[str, Any]:
    """The request's fields: the JSON object of a body, else the query string."""
    if request.method in ("POST", "PATCH", "DELETE", "PUT"):
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                raise MlflowError("MALFORMED_REQUEST", "the request body is not JSON.") from None
            if not isinstance(body, dict):
                raise MlflowError(
                    "INVALID_PARAMETER_VALUE", "the request body must be a JSON object."
                )
            return {**dict(request.query_params), **body}
    found: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in _LISTS:
            found.setdefault(key, []).append(value)
        else:
            found[key] = value
    return found


def _endpoint(handler: Handler) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        body = await fields(request)
        body.update(request.path_params)
        result = await run_in_threadpool(handler, Ctx(request), body)
        if isinstance(result, Response):
            return result
        return Response(json.dumps(result), media_type="application/json")

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def add_routes(router: APIRouter, routes: Sequence[Route], tag: str) -> None:
    """Mount each route on the router, declaring its action."""
    for route in routes:
        router.add_api_route(
            route.path,
            _endpoint(route.handler),
            methods=[route.method],
            tags=[tag],
            dependencies=[requires(route.action, any_project)],
            include_in_schema=False,
        )
