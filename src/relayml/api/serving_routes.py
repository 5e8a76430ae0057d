"""Routes of /api/v1 for deployments: their current revision, history and changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from relayml.api.auth import requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.domain.serving import Deployment, DeploymentRevision, Strategy, Variant

__all__ = ["router"]

router = APIRouter()
_BASE = "/projects/{project}/models/{model}/deployments/{environment}"


class DeploymentIn(BaseModel):
    """A new revision of a deployment."""

    strategy: Strategy
    variants: list[Variant] = Field(min_length=1)
    sticky_key: str | None = None
    reason: str = ""


class OutcomesIn(BaseModel):
    """True values of earlier predictions, one per prediction id."""

    prediction_ids: list[str]
    values: list[str | int | float | bool | None]
    model: str | None = None


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


@router.put(
    _BASE, tags=["deployments"], responses=_doc(Deployment), dependencies=[requires("deploy.write")]
)
def deploy(
    request: Request, project: str, model: str, environment: str, body: DeploymentIn
) -> Response:
    """Change a deployment (a new revision, stored with who and when)."""
    deployment = backend_of(request).deploy(
        project,
        model,
        environment,
        body.strategy,
        body.variants,
        sticky_key=body.sticky_key,
        reason=body.reason,
    )
    return ok(deployment)


@router.get(
    _BASE, tags=["deployments"], responses=_doc(Deployment), dependencies=[requires("project.read")]
)
def get_deployment(request: Request, project: str, model: str, environment: str) -> Response:
    """The current revision of a deployment."""
    return ok(backend_of(request).get_deployment(project, model, environment))


@router.get(
    _BASE + "/history",
    tags=["deployments"],
    responses=_doc(list[DeploymentRevision]),
    dependencies=[requires("project.read")],
)
def deployment_history(request: Request, project: str, model: str, environment: str) -> Response:
    """Every revision of a deployment, oldest first."""
    return ok(backend_of(request).deployment_history(project, model, environment))


@router.get(_BASE + "/state", tags=["deployments"], dependencies=[requires("project.read")])
def deployment_state(request: Request, project: str, model: str, environment: str) -> Response:
    """The revision and the environment alias's version: what model servers poll."""
    revision, alias_version = backend_of(request).deployment_state(project, model, environment)
    return ok({"revision": revision, "alias_version": alias_version})


@router.get(
    "/projects/{project}/deployments",
    tags=["deployments"],
    responses=_doc(list[Deployment]),
    dependencies=[requires("project.read")],
)
def list_deployments(request: Request, project: str) -> Response:
    """Every deployment of a project."""
    return ok(backend_of(request).list_deployments(project))


@router.post(
    "/projects/{project}/outcomes", tags=["deployments"], dependencies=[requires("outcomes.write")]
)
def log_outcomes(request: Request, project: str, body: OutcomesIn) -> Response:
    """Store outcomes (durable when this answers); monitoring joins them by prediction id."""
    count = backend_of(request).log_outcomes(
        project, body.prediction_ids, body.values, model=body.model
    )
    return ok({"accepted": count})
