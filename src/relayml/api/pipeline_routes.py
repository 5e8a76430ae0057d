"""Routes of /api/v1 for pipelines: pipeline runs, the step runs they record, the step cache.

The steps themselves run where the client runs them (its process or its Dask cluster); these
routes only record what happened, as LocalPipelineOps does in-process.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from relayml.api.auth import any_project, pipeline_run_project, requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.domain.pipelines import PipelineRun

__all__ = ["router"]

router = APIRouter()


class PipelineRunIn(BaseModel):
    """A pipeline run to start recording."""

    pipeline: str = Field(description="module:function of the pipeline")
    executor: str = "local"
    params: dict[str, Any] = Field(default_factory=dict)


class StepRunIn(BaseModel):
    """A step run as it ended, and whether its outputs go into the step cache."""

    record: dict[str, Any] = Field(
        description="step, status, cache_key, attempts, started_at, ended_at (epoch ms), "
        "duration, cpu_time, peak_memory_mb, logs, error, outputs, inputs"
    )
    cache: bool = False


class PipelineRunEnd(BaseModel):
    """How a pipeline run ended."""

    status: str = Field(description="FINISHED or FAILED")
    error: str | None = None


@router.post(
    "/projects/{project}/pipeline-runs",
    tags=["pipelines"],
    status_code=201,
    responses={201: {"model": PipelineRun}},
    dependencies=[requires("pipeline.run")],
)
def create_pipeline_run(request: Request, project: str, body: PipelineRunIn) -> Response:
    """Start recording a run of a pipeline (RUNNING)."""
    run = backend_of(request).create_pipeline_run(
        project, body.pipeline, executor=body.executor, params=body.params
    )
    return ok(run, status_code=201)


@router.get(
    "/projects/{project}/pipeline-runs",
    tags=["pipelines"],
    responses={200: {"model": list[PipelineRun]}},
    dependencies=[requires("project.read")],
)
def list_pipeline_runs(
    request: Request,
    project: str,
    pipeline: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
) -> Response:
    """A project's pipeline runs, newest first, with their steps."""
    runs = backend_of(request).list_pipeline_runs(project, pipeline=pipeline, limit=limit)
    return ok(runs)


@router.get(
    "/pipeline-runs/{run_id}",
    tags=["pipelines"],
    responses={200: {"model": PipelineRun}},
    dependencies=[requires("project.read", pipeline_run_project)],
)
def get_pipeline_run(request: Request, run_id: str) -> Response:
    """A pipeline run with its steps, by id or a unique prefix of 6+ characters."""
    return ok(backend_of(request).get_pipeline_run(run_id))


@router.post(
    "/pipeline-runs/{run_id}/steps",
    tags=["pipelines"],
    status_code=201,
    dependencies=[requires("pipeline.run", pipeline_run_project)],
)
def record_step_run(request: Request, run_id: str, body: StepRunIn) -> Response:
    """Store a step run as it ended ({"id": step run id}); cache=true also caches it."""
    step_run_id = backend_of(request).record_step_run(run_id, body.record, cache=body.cache)
    return ok({"id": step_run_id}, status_code=201)


@router.post(
    "/pipeline-runs/{run_id}/finish",
    tags=["pipelines"],
    responses={200: {"model": PipelineRun}},
    dependencies=[requires("pipeline.run", pipeline_run_project)],
)
def finish_pipeline_run(request: Request, run_id: str, body: PipelineRunEnd) -> Response:
    """End a pipeline run: FINISHED, or FAILED with the error."""
    return ok(backend_of(request).finish_pipeline_run(run_id, body.status, error=body.error))


@router.get(
    "/step-cache/{cache_key}",
    tags=["pipelines"],
    dependencies=[requires("project.read", any_project)],
)
def lookup_cache(request: Request, cache_key: str) -> Response:
    """The cache entry of a key ({"outputs", "step_run_id"}), or null when none is usable."""
    return ok(backend_of(request).lookup_cache(cache_key))
