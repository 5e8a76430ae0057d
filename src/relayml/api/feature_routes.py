"""Routes of /api/v1 for the feature registry: plan and apply definitions, read their versions,
record checks, promote feature sets through environments."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from relayml.api.auth import requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.domain.data import CheckOutcome
from relayml.domain.features import FeatureCheck, FeatureDefinition, FeaturePlan

__all__ = ["DefinitionsIn", "FeatureCheckIn", "PromoteIn", "router"]

router = APIRouter()
_STRICT = ConfigDict(extra="forbid")
Kind = Literal["entity", "feature_set", "on_demand"]


class DefinitionsIn(BaseModel):
    """Definitions to plan or apply: specs as relayml.domain.features models dump them."""

    model_config = _STRICT
    definitions: list[dict[str, Any]] = Field(max_length=1_000)


class FeatureCheckIn(BaseModel):
    """A feature set version's check outcomes on its source, and the source's freshness."""

    model_config = _STRICT
    version: int = Field(ge=1)
    outcomes: list[CheckOutcome] = Field(max_length=10_000)
    rows: int = Field(ge=0)
    latest_event_time: datetime | None = None


class PromoteIn(BaseModel):
    """Which version (None: the latest) goes into which environment, and why."""

    model_config = _STRICT
    environment: str
    version: int | None = Field(None, ge=1)
    reason: str = Field("", max_length=2_000)


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


@router.post(
    "/projects/{project}/features/plan",
    tags=["features"],
    responses=_doc(FeaturePlan),
    dependencies=[requires("project.read")],
)
def plan_features(request: Request, project: str, body: DefinitionsIn) -> Response:
    """What applying these definitions would add or change (nothing is stored)."""
    return ok(backend_of(request).plan_features(project, body.definitions))


@router.post(
    "/projects/{project}/features/apply",
    tags=["features"],
    responses=_doc(FeaturePlan),
    dependencies=[requires("features.write")],
)
def apply_features(request: Request, project: str, body: DefinitionsIn) -> Response:
    """Store each changed definition as its next version."""
    return ok(backend_of(request).apply_features(project, body.definitions))


@router.get(
    "/projects/{project}/features",
    tags=["features"],
    responses=_doc(list[FeatureDefinition]),
    dependencies=[requires("project.read")],
)
def list_definitions(request: Request, project: str, kind: Kind | None = None) -> Response:
    """The latest version of each definition (of a kind)."""
    return ok(backend_of(request).list_feature_definitions(project, kind))


@router.get(
    "/projects/{project}/features/{kind}/{name}",
    tags=["features"],
    responses=_doc(FeatureDefinition),
    dependencies=[requires("project.read")],
)
def get_definition(
    request: Request,
    project: str,
    kind: Kind,
    name: str,
    version: int | None = Query(None, ge=1),
    environment: str | None = None,
) -> Response:
    """One version of a definition: a number, the one in an environment, or the latest."""
    found = backend_of(request).get_feature_definition(
        project, kind, name, version=version, environment=environment
    )
    return ok(found)


@router.get(
    "/projects/{project}/features/{kind}/{name}/versions",
    tags=["features"],
    responses=_doc(list[FeatureDefinition]),
    dependencies=[requires("project.read")],
)
def list_versions(request: Request, project: str, kind: Kind, name: str) -> Response:
    """Every version of a definition, newest first."""
    return ok(backend_of(request).list_feature_definition_versions(project, kind, name))


@router.post(
    "/projects/{project}/feature-sets/{name}/checks",
    tags=["features"],
    status_code=201,
    responses={201: {"model": FeatureCheck}},
    dependencies=[requires("features.write")],
)
def record_check(request: Request, project: str, name: str, body: FeatureCheckIn) -> Response:
    """Store a feature set version's check outcomes on its source."""
    report = backend_of(request).record_feature_check(
        project,
        name,
        body.version,
        body.outcomes,
        rows=body.rows,
        latest_event_time=body.latest_event_time,
    )
    return ok(report, status_code=201)


@router.get(
    "/projects/{project}/feature-sets/{name}/checks",
    tags=["features"],
    responses=_doc(list[FeatureCheck]),
    dependencies=[requires("project.read")],
)
def list_checks(
    request: Request, project: str, name: str, version: int | None = Query(None, ge=1)
) -> Response:
    """A feature set's check reports (of one version), newest first."""
    return ok(backend_of(request).list_feature_checks(project, name, version))


@router.post(
    "/projects/{project}/feature-sets/{name}/promote",
    tags=["features"],
    responses=_doc(FeatureDefinition),
    dependencies=[requires("features.write")],
)
def promote(request: Request, project: str, name: str, body: PromoteIn) -> Response:
    """Move a feature set version into an environment, past its gates."""
    moved = backend_of(request).promote_feature_set(
        project, name, body.environment, version=body.version, reason=body.reason
    )
    return ok(moved)
