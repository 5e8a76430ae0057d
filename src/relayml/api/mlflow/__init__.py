"""MLflow's REST API over relayml: the unmodified ``mlflow`` client works against relay server.

Mounted at /api/2.0/mlflow (tracking, logged models, registry), /ajax-api/2.0/mlflow (the
tracking calls again, for tools that use the UI's prefix) and /api/2.0/mlflow-artifacts (the
artifact proxy). Errors are MLflow's (errors.py); what maps to what is in docs/mlflow.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import BaseRoute

from relayml.api.mlflow import artifacts, experiments, logged_models, registry, runs, versions
from relayml.api.mlflow.common import Route, add_routes
from relayml.api.mlflow.errors import MlflowError, is_mlflow_path, mlflow_error_response
from relayml.api.route_gate import RouteGate
from relayml.errors import NotFound
from relayml.identity.tokens import PREFIX, verify_token
from relayml.interop import mlflow_experiments, mlflow_logged_models, mlflow_registry, mlflow_runs
from relayml.store import Store
from relayml.tracking.loading import load_runs

__all__ = ["MlflowError", "is_mlflow_path", "mlflow_error_response", "mount"]

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")  # /api/2.0/mlflow-artifacts too


def _gate(routes: Sequence[BaseRoute]) -> RouteGate:
    """The MLflow routes, tried first for paths under the MLflow prefixes and not at all for
    others (relayml.api.route_gate): the ~20 routers of /api/v1 before them cost ~0.35 ms a
    request to rule out."""
    behind = list(routes)

    def select(path: str) -> Sequence[BaseRoute] | None:
        return behind if path.startswith(PREFIXES) else None

    return RouteGate(select, "mlflow")


def _router(*groups: tuple[list[Route], str]) -> APIRouter:
    router = APIRouter()
    for routes, tag in groups:
        add_routes(router, routes, tag)
    return router


def _warm(store: Store) -> None:
    """Compile what MLflow calls read on every request (the token, the experiment), on every
    runs/search and runs/get (a page of runs, their latest points, experiment ids and dataset
    inputs) and when logging a model (the logged model, the registered model) by reading
    nothing: the first calls after start-up then cost what later ones do. A store that cannot
    answer yet (down, or not migrated) is left cold: /readyz tells."""
    # The prebuilt statements raise the driver's own errors, not SQLAlchemy's.
    driver_error = getattr(store.engine.dialect.dbapi, "Error", SQLAlchemyError)
    try:
        verify_token(store, PREFIX + "0" * 40)  # no such token
        try:
            mlflow_experiments.find(store, "", str(2**31 - 1))  # no such experiment
        except NotFound:
            pass
        with store.read() as conn:
            load_runs(conn, ["", " "])
        mlflow_runs.warm(store)
        for read in (mlflow_logged_models.get, mlflow_registry.project_of_model):
            try:  # a logged model's, a registered model's lookup: each a client's first
                read(store, "")
            except NotFound:
                pass
    except (SQLAlchemyError, driver_error):
        pass


def _build_routes(gate: RouteGate) -> None:
    """Have FastAPI build what it builds for a router on the first request that reaches it
    (each route's signature and dependencies: ~50 ms for the MLflow routers, ~0.6 s under a
    profiler): otherwise a client's first artifact upload pays for the registry's routers it
    passes on its way, and its first model registration for the rest. One request's matching
    per prefix, answering nothing."""
    for prefix in (*PREFIXES, "/api/2.0/mlflow-artifacts"):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            scope = {"type": "http", "path": f"{prefix}/", "root_path": "", "method": method}
            gate.matches({**scope, "headers": [], "query_string": b""})


def mount(app: FastAPI) -> None:
    """Add the MLflow routes to the app."""
    tracking = _router((experiments.ROUTES, "mlflow"), (runs.ROUTES, "mlflow"))
    models = _router(
        (logged_models.ROUTES, "mlflow"), (registry.ROUTES, "mlflow"), (versions.ROUTES, "mlflow")
    )
    before = len(app.router.routes)
    app.include_router(tracking, prefix="/api/2.0/mlflow")
    app.include_router(models, prefix="/api/2.0/mlflow")
    app.include_router(tracking, prefix="/ajax-api/2.0/mlflow")
    app.include_router(artifacts.router, prefix="/api/2.0/mlflow-artifacts")
    gate = _gate(app.router.routes[before:])
    app.router.routes.insert(0, gate)
    _warm(app.state.backend.store)
    _build_routes(gate)
