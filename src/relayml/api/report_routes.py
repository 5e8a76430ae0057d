"""Routes of /api/v1 for the model inventory, risk tiers, retirement, model risk reports and the
resource overview."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from relayml.api.auth import requires
from relayml.api.responses import ok
from relayml.backend import LocalBackend
from relayml.domain.identity import Identity
from relayml.domain.reports import InventoryEntry, ModelCard, ModelReport
from relayml.domain.resources import ResourceOverview
from relayml.identity.access import visible_projects

__all__ = ["router"]

router = APIRouter()


class TierIn(BaseModel):
    """A risk tier and why."""

    tier: str = Field(description="high, medium or low")
    reason: str


class RetireIn(BaseModel):
    """Why a model is retired."""

    reason: str


class CardIn(BaseModel):
    """A version and the texts to set (None keeps the current text)."""

    ref: str = Field(description="churn/3, churn@production or churn (the latest)")
    intended_use: str | None = None
    limitations: str | None = None


class ReportIn(BaseModel):
    """Which version (default: the one in production) and which format."""

    version: int | None = None
    format: str = "html"


def _no_project(_backend: Any, _params: dict[str, Any]) -> str | None:
    return None


def _backend(request: Request, identity: Identity) -> LocalBackend:
    backend: LocalBackend = request.app.state.backend
    return backend.with_actor(identity.name)


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


@router.get("/inventory", tags=["reports"], responses=_doc(list[InventoryEntry]))
def inventory(
    request: Request,
    project: Annotated[list[str] | None, Query()] = None,
    identity: Identity = requires("project.read", project_of=_no_project),
) -> Response:
    """Every model ever in staging or production, in the projects the caller may read."""
    backend = _backend(request, identity)
    visible = visible_projects(backend.store, identity)
    if visible is not None:
        if project is not None:
            for name in project:
                backend.get_project(name)  # NotFound before PermissionDenied-by-omission
        project = sorted(visible & set(project)) if project is not None else sorted(visible)
    return ok(backend.inventory(project))


@router.put(
    "/projects/{project}/models/{model}/risk-tier",
    tags=["reports"],
    responses=_doc(InventoryEntry),
)
def set_risk_tier(
    request: Request,
    project: str,
    model: str,
    body: TierIn,
    identity: Identity = requires("risk.write"),
) -> Response:
    """Set a model's risk tier with the reason (audited)."""
    backend = _backend(request, identity)
    return ok(backend.set_risk_tier(project, model, body.tier, body.reason))


@router.post(
    "/projects/{project}/models/{model}/retire", tags=["reports"], responses=_doc(InventoryEntry)
)
def retire_model(
    request: Request,
    project: str,
    model: str,
    body: RetireIn,
    identity: Identity = requires("model.retire"),
) -> Response:
    """Retire a model: its environments end now; it stays in the inventory (audited)."""
    return ok(_backend(request, identity).retire_model(project, model, body.reason))


@router.get("/projects/{project}/model-card", tags=["reports"], responses=_doc(ModelCard))
def get_model_card(
    request: Request,
    project: str,
    ref: Annotated[str, Query()],
    identity: Identity = requires("project.read"),
) -> Response:
    """A version's intended use and limitations, now and every earlier text."""
    return ok(_backend(request, identity).get_model_card(project, ref))


@router.put("/projects/{project}/model-card", tags=["reports"], responses=_doc(ModelCard))
def set_model_card(
    request: Request,
    project: str,
    body: CardIn,
    identity: Identity = requires("model.write"),
) -> Response:
    """Set a version's intended use and/or limitations (audited: model.set_card)."""
    backend = _backend(request, identity)
    card = backend.set_model_card(
        project, body.ref, intended_use=body.intended_use, limitations=body.limitations
    )
    return ok(card)


@router.post(
    "/projects/{project}/models/{model}/reports", tags=["reports"], responses=_doc(ModelReport)
)
def build_model_report(
    request: Request,
    project: str,
    model: str,
    body: ReportIn,
    identity: Identity = requires("report.create"),
) -> Response:
    """Build the model risk report of a version from the store; it is stored and audited."""
    backend = _backend(request, identity)
    return ok(backend.build_model_report(project, model, version=body.version, fmt=body.format))


@router.get("/projects/{project}/resources", tags=["reports"], responses=_doc(ResourceOverview))
def resource_overview(
    request: Request,
    project: str,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
    identity: Identity = requires("project.read"),
) -> Response:
    """Compute, storage and serving of a project over the last days, and the bottlenecks."""
    return ok(_backend(request, identity).resource_overview(project, days=days))
