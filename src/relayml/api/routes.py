"""Routes of /api/v1: projects, experiments, runs, metrics, search, artifacts, audit."""

from __future__ import annotations

import itertools
import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import (
    acting_identity,
    any_project,
    check,
    project_param,
    requires,
    run_project,
)
from relayml.api.bodies import (
    ExperimentIn,
    MetricsIn,
    ProjectIn,
    ProjectPatch,
    RunEndIn,
    RunIn,
    SearchIn,
    ValuesIn,
)
from relayml.api.responses import ok
from relayml.backend import LocalBackend
from relayml.domain.entities import (
    Artifact,
    AuditEntry,
    AuditQuery,
    Experiment,
    MetricPoint,
    Project,
    Run,
    RunPage,
)
from relayml.domain.permissions import SIGNED_IN
from relayml.errors import InvalidInput
from relayml.identity.access import visible_projects
from relayml.tracking import runs as run_service

__all__ = ["router"]

router = APIRouter()
MAX_UPLOAD = 5 * 1024**3
MAX_HISTORY_PAGE = 10_000  # metric points per page of GET /runs/{id}/metrics/{key}


NAMED = project_param("name")  # /projects/{name}: the project is the path's name
# What most routes here declare: reading, or tracking in, the project (of the path, or the run's).
READ = [requires("project.read")]
WRITE = [requires("tracking.write")]
RUN_READ = [requires("project.read", run_project)]
RUN_WRITE = [requires("tracking.write", run_project)]


def backend_of(request: Request) -> LocalBackend:
    """The backend, acting for the caller that ``requires`` identified (with auth on, the
    token's or session's user; never a name the client merely claims)."""
    backend: LocalBackend = request.app.state.backend
    name = acting_identity(request).name
    return backend if name == backend.actor else backend.with_actor(name)


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


@router.get(
    "/projects",
    tags=["projects"],
    responses=_doc(list[Project]),
    dependencies=[requires(SIGNED_IN)],
)
def list_projects(request: Request) -> Response:
    """The projects the caller holds a role in (an administrator: every project)."""
    backend = backend_of(request)
    visible = visible_projects(backend.store, acting_identity(request))
    found = backend.list_projects()
    return ok(found if visible is None else [p for p in found if p.name in visible])


@router.post(
    "/projects",
    tags=["projects"],
    status_code=201,
    responses={201: {"model": Project}},
    dependencies=[requires(SIGNED_IN)],
)
def create_project(request: Request, body: ProjectIn) -> Response:
    """Create a project with its business question and KPIs."""
    project = backend_of(request).create_project(
        body.name,
        description=body.description,
        business_question=body.business_question,
        owner=body.owner,
        kpis=body.kpis,
    )
    return ok(project, status_code=201)


@router.get(
    "/projects/{name}",
    tags=["projects"],
    responses=_doc(Project),
    dependencies=[requires("project.read", NAMED)],
)
def get_project(request: Request, name: str) -> Response:
    """One project."""
    return ok(backend_of(request).get_project(name))


@router.patch(
    "/projects/{name}",
    tags=["projects"],
    responses=_doc(Project),
    dependencies=[requires("project.update", NAMED, also=("project.kpis",))],
)
def update_project(request: Request, name: str, body: ProjectPatch) -> Response:
    """Change a project's description, question, owner or KPIs (KPIs alone: project.kpis)."""
    others = (body.description, body.business_question, body.owner)
    only_kpis = body.kpis is not None and all(v is None for v in others)
    check(request, "project.kpis" if only_kpis else "project.update", name)
    return ok(
        backend_of(request).update_project(
            name,
            description=body.description,
            business_question=body.business_question,
            owner=body.owner,
            kpis=body.kpis,
        )
    )


@router.get(
    "/projects/{project}/experiments",
    tags=["experiments"],
    responses=_doc(list[Experiment]),
    dependencies=READ,
)
def list_experiments(request: Request, project: str, include_deleted: bool = False) -> Response:
    """A project's experiments (the deleted ones too with include_deleted=true)."""
    return ok(backend_of(request).list_experiments(project, include_deleted=include_deleted))


@router.post(
    "/projects/{project}/experiments",
    tags=["experiments"],
    status_code=201,
    responses={201: {"model": Experiment}},
    dependencies=WRITE,
)
def create_experiment(request: Request, project: str, body: ExperimentIn) -> Response:
    """Create an experiment."""
    experiment = backend_of(request).create_experiment(
        project, body.name, description=body.description
    )
    return ok(experiment, status_code=201)


@router.get(
    "/projects/{project}/experiments/{name}",
    tags=["experiments"],
    responses=_doc(Experiment),
    dependencies=READ,
)
def get_experiment(request: Request, project: str, name: str) -> Response:
    """One experiment."""
    return ok(backend_of(request).get_experiment(project, name))


@router.delete(
    "/projects/{project}/experiments/{name}",
    tags=["experiments"],
    responses=_doc(Experiment),
    dependencies=WRITE,
)
def delete_experiment(request: Request, project: str, name: str) -> Response:
    """Delete an experiment: it and its runs are hidden until restored."""
    return ok(backend_of(request).delete_experiment(project, name))


@router.post(
    "/projects/{project}/experiments/{name}/restore",
    tags=["experiments"],
    responses=_doc(Experiment),
    dependencies=WRITE,
)
def restore_experiment(request: Request, project: str, name: str) -> Response:
    """Bring a deleted experiment back."""
    return ok(backend_of(request).restore_experiment(project, name))


@router.post(
    "/projects/{project}/runs",
    tags=["runs"],
    status_code=201,
    responses={201: {"model": Run}},
    dependencies=WRITE,
)
def create_run(request: Request, project: str, body: RunIn) -> Response:
    """Start a run (its experiment is created if new)."""
    run = backend_of(request).create_run(
        project,
        body.experiment,
        name=body.name,
        tags=body.tags,
        system=body.system,
        start_time=body.start_time,
    )
    return ok(run, status_code=201)


@router.post(
    "/projects/{project}/runs/search", tags=["runs"], responses=_doc(RunPage), dependencies=READ
)
def search_runs(request: Request, project: str, body: SearchIn) -> Response:
    """Search a project's runs (grammar in docs/tracking.md)."""
    return ok(
        backend_of(request).search_runs(
            project,
            filter=body.filter,
            order_by=body.order_by,
            max_results=body.max_results,
            page_token=body.page_token,
            experiments=body.experiments,
            include_deleted=body.include_deleted,
        )
    )


@router.get("/runs/{run_id}", tags=["runs"], responses=_doc(Run), dependencies=RUN_READ)
def get_run(request: Request, run_id: str) -> Response:
    """One run with its params, latest metrics and tags."""
    return ok(backend_of(request).get_run(run_id))


@router.delete("/runs/{run_id}", tags=["runs"], responses=_doc(Run), dependencies=RUN_WRITE)
def delete_run(request: Request, run_id: str) -> Response:
    """Delete a run: hidden from searches, no more logging, until restored."""
    return ok(backend_of(request).delete_run(run_id))


@router.post("/runs/{run_id}/restore", tags=["runs"], responses=_doc(Run), dependencies=RUN_WRITE)
def restore_run(request: Request, run_id: str) -> Response:
    """Bring a deleted run back."""
    return ok(backend_of(request).restore_run(run_id))


@router.post("/runs/{run_id}/end", tags=["runs"], status_code=204, dependencies=RUN_WRITE)
def end_run(request: Request, run_id: str, body: RunEndIn) -> Response:
    """End a running run, storing its last metric points in the same transaction."""
    backend_of(request).end_run(
        run_id,
        body.status,
        error=body.error,
        end_time=body.end_time,
        cpu_time=body.cpu_time,
        peak_memory_mb=body.peak_memory_mb,
        params=body.params,
        points=body.points,
    )
    return Response(status_code=204)


@router.post("/runs/{run_id}/params", tags=["runs"], status_code=204, dependencies=RUN_WRITE)
def log_params(request: Request, run_id: str, body: ValuesIn) -> Response:
    """Set params (immutable once set)."""
    backend_of(request).log_params(run_id, body.values)
    return Response(status_code=204)


@router.post("/runs/{run_id}/tags", tags=["runs"], status_code=204, dependencies=RUN_WRITE)
def set_tags(request: Request, run_id: str, body: ValuesIn) -> Response:
    """Set tags."""
    backend_of(request).set_tags(run_id, body.values)
    return Response(status_code=204)


@router.post("/runs/{run_id}/metrics", tags=["runs"], status_code=204, dependencies=RUN_WRITE)
def log_metrics(request: Request, run_id: str, body: MetricsIn) -> Response:
    """Append metric points [key, value, step, timestamp_ms] in one transaction."""
    backend_of(request).log_metrics(run_id, body.points)
    return Response(status_code=204)


@router.get(
    "/runs/{run_id}/metrics/{key:path}",
    tags=["runs"],
    responses=_doc(list[MetricPoint]),
    dependencies=RUN_READ,
)
def get_metric_history(
    request: Request,
    run_id: str,
    key: str,
    max_results: int | None = Query(None, ge=1, le=MAX_HISTORY_PAGE),
    limit: int | None = Query(None, ge=1, le=MAX_HISTORY_PAGE, description="max_results"),
    offset: int = Query(0, ge=0, le=2**62),
) -> Response:
    """One page of a metric series; X-Relay-Next-Offset names the next page when there is one."""
    size = max_results or limit or MAX_HISTORY_PAGE
    backend = backend_of(request)
    points = run_service.get_metric_history(
        backend.store, run_id, key, limit=size + 1, offset=offset
    )
    response = ok(points[:size])
    if len(points) > size:
        response.headers["X-Relay-Next-Offset"] = str(offset + size)
    return response


@router.get(
    "/runs/{run_id}/artifacts",
    tags=["artifacts"],
    responses=_doc(list[Artifact]),
    dependencies=RUN_READ,
)
def list_artifacts(request: Request, run_id: str, prefix: str = "") -> Response:
    """A run's artifacts, optionally under a folder."""
    return ok(backend_of(request).list_artifacts(run_id, prefix))


@router.put(
    "/runs/{run_id}/artifacts/{path:path}",
    tags=["artifacts"],
    responses=_doc(Artifact),
    dependencies=RUN_WRITE,
)
async def upload_artifact(request: Request, run_id: str, path: str) -> Response:
    """Store the request body as the run's artifact at path."""
    backend = backend_of(request)
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise InvalidInput(f"artifact is larger than {MAX_UPLOAD} bytes.")
            spool.write(chunk)
        spool.seek(0)
        artifact = await run_in_threadpool(backend.log_artifact, run_id, path, spool)
    return ok(artifact)


@router.get("/runs/{run_id}/artifacts/{path:path}", tags=["artifacts"], dependencies=RUN_READ)
def download_artifact(request: Request, run_id: str, path: str) -> Response:
    """The artifact's bytes; X-Relay-Sha256 carries the hash to verify them against."""
    artifact, chunks = backend_of(request).open_artifact(run_id, path)
    # Read the first chunk before answering: a blob missing from the store (or unreadable) is
    # a clean error response, not a download the server starts and then drops.
    first = next(chunks, None)
    return StreamingResponse(
        itertools.chain([] if first is None else [first], chunks),
        media_type="application/octet-stream",
        headers={"X-Relay-Sha256": artifact.sha256, "Content-Length": str(artifact.size)},
    )


@router.get(
    "/audit",
    tags=["audit"],
    responses=_doc(list[AuditEntry]),
    dependencies=[requires("audit.read", any_project)],
)
def list_audit(request: Request, query: Annotated[AuditQuery, Query()]) -> Response:
    """The newest audit entries, filtered; page back with before=<the last id>."""
    return ok(backend_of(request).list_audit(query))
