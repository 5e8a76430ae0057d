"""Routes of /api/v1 for datasets, their versions and data check reports.

The Parquet bytes travel through PUT /blobs first; a version registers what was uploaded.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from relayml.api.auth import requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.backend import LocalBackend
from relayml.domain.data import CheckOutcome, DataCheckReport, Dataset, DatasetVersion
from relayml.errors import RelayError

__all__ = ["DataCheckIn", "DatasetVersionIn", "router"]

router = APIRouter()
_STRICT = ConfigDict(extra="forbid")


class DatasetVersionIn(BaseModel):
    """A dataset version whose Parquet was uploaded to /api/v1/blobs."""

    model_config = _STRICT
    content_hash: str
    sha256: str
    rows: int
    columns: int
    schema_: list[dict[str, Any]] = Field(alias="schema")
    profile: dict[str, Any]
    source: dict[str, Any]
    description: str = ""


class DataCheckIn(BaseModel):
    """The outcomes of a data check spec run on a version."""

    model_config = _STRICT
    ref: str
    spec: dict[str, Any]
    outcomes: list[CheckOutcome] = Field(max_length=10_000)


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


def _data(request: Request) -> LocalBackend:
    backend = backend_of(request)
    if not isinstance(backend, LocalBackend):
        raise RelayError("this server's backend has no dataset operations.")
    return backend


@router.get(
    "/projects/{project}/datasets",
    tags=["data"],
    responses=_doc(list[Dataset]),
    dependencies=[requires("project.read")],
)
def list_datasets(request: Request, project: str) -> Response:
    """A project's datasets with their latest version."""
    return ok(_data(request).list_datasets(project))


@router.post(
    "/projects/{project}/datasets/{name}/versions",
    tags=["data"],
    status_code=201,
    responses={201: {"model": DatasetVersion}},
    dependencies=[requires("data.write")],
)
def create_dataset_version(
    request: Request, project: str, name: str, body: DatasetVersionIn
) -> Response:
    """Register a version whose Parquet was uploaded (the same content: the existing version)."""
    version = _data(request).create_dataset_version(
        project,
        name,
        content_hash=body.content_hash,
        sha256=body.sha256,
        rows=body.rows,
        columns=body.columns,
        schema=body.schema_,
        profile=body.profile,
        source=body.source,
        description=body.description,
    )
    return ok(version, status_code=201)


@router.get(
    "/projects/{project}/datasets/{name}/versions",
    tags=["data"],
    responses=_doc(list[DatasetVersion]),
    dependencies=[requires("project.read")],
)
def list_dataset_versions(request: Request, project: str, name: str) -> Response:
    """A dataset's versions, newest first."""
    return ok(_data(request).list_dataset_versions(project, name))


@router.get(
    "/projects/{project}/dataset-version",
    tags=["data"],
    responses=_doc(DatasetVersion),
    dependencies=[requires("project.read")],
)
def get_dataset_version(request: Request, project: str, ref: str = Query(...)) -> Response:
    """The version a reference names: customers@3, customers@latest or customers."""
    return ok(_data(request).get_dataset_version(project, ref))


@router.post(
    "/projects/{project}/data-checks",
    tags=["data"],
    status_code=201,
    responses={201: {"model": DataCheckReport}},
    dependencies=[requires("data.write")],
)
def record_data_check(request: Request, project: str, body: DataCheckIn) -> Response:
    """Store the outcomes of a data check spec run on a version."""
    report = _data(request).record_data_check(project, body.ref, body.spec, body.outcomes)
    return ok(report, status_code=201)


@router.get(
    "/projects/{project}/data-checks",
    tags=["data"],
    responses=_doc(list[DataCheckReport]),
    dependencies=[requires("project.read")],
)
def list_data_checks(request: Request, project: str, ref: str = Query(...)) -> Response:
    """A version's data check reports, newest first."""
    return ok(_data(request).list_data_checks(project, ref))
