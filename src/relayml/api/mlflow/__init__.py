"""MLflow's REST API over relayml: the unmodified ``mlflow`` client works against relay server.

Mounted at /api/2.0/mlflow (tracking, logged models, registry), /ajax-api/2.0/mlflow (the
tracking calls again, for tools that use the UI's prefix) and /api/2.0/mlflow-artifacts (the
artifact proxy). Errors are MLflow's (errors.py); what maps to what is in docs/mlflow.md.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from relayml.api.mlflow import artifacts, experiments, logged_models, registry, runs, versions
from relayml.api.mlflow.common import Route, add_routes
from relayml.api.mlflow.errors import MlflowError, is_mlflow_path, mlflow_error_response

__all__ = ["MlflowError", "is_mlflow_path", "mlflow_error_response", "mount"]


def _router(*groups: tuple[list[Route], str]) -> APIRouter:
    router = APIRouter()
    for routes, tag in groups:
        add_routes(router, routes, tag)
    return router


def mount(app: FastAPI) -> None:
    """Add the MLflow routes to the app."""
    tracking = _router((experiments.ROUTES, "mlflow"), (runs.ROUTES, "mlflow"))
    models = _router(
        (logged_models.ROUTES, "mlflow"), (registry.ROUTES, "mlflow"), (versions.ROUTES, "mlflow")
    )
    app.include_router(tracking, prefix="/api/2.0/mlflow")
    app.include_router(models, prefix="/api/2.0/mlflow")
    app.include_router(tracking, prefix="/ajax-api/2.0/mlflow")
    app.include_router(artifacts.router, prefix="/api/2.0/mlflow-artifacts")
