"""Routes of /api/v1 for schedules: add, list, show, pause, resume, remove, tick, and the
firings' progress that their pipeline runs report.

Who may run a project's pipelines may schedule them (pipeline.run); reading needs project.read.
A tick over every project is for administrators.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from relayml.api.auth import requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.domain.permissions import ADMIN_ONLY
from relayml.domain.schedules import Firing, Schedule, ScheduleDetail

__all__ = ["router"]

router = APIRouter()
_STRICT = ConfigDict(extra="forbid")


class ScheduleIn(BaseModel):
    """A schedule to add: a pipeline and exactly one of a cron expression or an event."""

    model_config = _STRICT
    name: str = Field(max_length=100)
    pipeline: str = Field(max_length=1000, description="module:name or path/to/file.py:name")
    cron: str | None = Field(None, max_length=200, description="e.g. '0 6 * * *' (UTC)")
    on: str | None = Field(
        None, max_length=500, description="dataset:NAME, alert:RULE or promotion:MODEL@ENV"
    )
    params: dict[str, str] = Field(default_factory=dict, max_length=200)
    workdir: str | None = Field(None, max_length=4000)


class FiringIn(BaseModel):
    """What became of a firing's pipeline run."""

    model_config = _STRICT
    status: Literal["running", "finished", "failed"]
    pipeline_run: str | None = Field(None, max_length=64)
    error: str | None = Field(None, max_length=100_000)


class TickIn(BaseModel):
    """Whether the tick waits for the runs it starts to end."""

    model_config = _STRICT
    wait: bool = False


_PROJECT = "/projects/{project}/schedules"


@router.post(
    _PROJECT,
    tags=["schedules"],
    status_code=201,
    responses={201: {"model": Schedule}},
    dependencies=[requires("pipeline.run")],
)
def add_schedule(request: Request, project: str, body: ScheduleIn) -> Response:
    """Add a schedule that runs a pipeline on a cron time (UTC) or an event."""
    schedule = backend_of(request).add_schedule(
        project, body.name, body.pipeline, cron=body.cron, on=body.on,
        params=body.params, workdir=body.workdir,
    )  # fmt: skip
    return ok(schedule, status_code=201)


@router.get(
    _PROJECT,
    tags=["schedules"],
    responses={200: {"model": list[Schedule]}},
    dependencies=[requires("project.read")],
)
def list_schedules(request: Request, project: str) -> Response:
    """A project's schedules by name, with when each last fired and (cron) is next due."""
    return ok(backend_of(request).list_schedules(project))


@router.get(
    _PROJECT + "/{name}",
    tags=["schedules"],
    responses={200: {"model": ScheduleDetail}},
    dependencies=[requires("project.read")],
)
def get_schedule(request: Request, project: str, name: str) -> Response:
    """A schedule with its newest firings."""
    return ok(backend_of(request).get_schedule(project, name))


@router.post(
    _PROJECT + "/{name}/pause",
    tags=["schedules"],
    responses={200: {"model": Schedule}},
    dependencies=[requires("pipeline.run")],
)
def pause_schedule(request: Request, project: str, name: str) -> Response:
    """Stop a schedule from firing."""
    return ok(backend_of(request).pause_schedule(project, name))


@router.post(
    _PROJECT + "/{name}/resume",
    tags=["schedules"],
    responses={200: {"model": Schedule}},
    dependencies=[requires("pipeline.run")],
)
def resume_schedule(request: Request, project: str, name: str) -> Response:
    """Let a paused schedule fire again, on times and events from now on."""
    return ok(backend_of(request).resume_schedule(project, name))


@router.delete(
    _PROJECT + "/{name}",
    tags=["schedules"],
    responses={200: {"model": Schedule}},
    dependencies=[requires("pipeline.run")],
)
def remove_schedule(request: Request, project: str, name: str) -> Response:
    """Delete a schedule and its firings (the audit log keeps their story)."""
    return ok(backend_of(request).remove_schedule(project, name))


@router.post(
    _PROJECT + "/tick",
    tags=["schedules"],
    responses={200: {"model": list[Firing]}},
    dependencies=[requires("pipeline.run")],
)
def tick_project(request: Request, project: str, body: TickIn | None = None) -> Response:
    """Fire the project's due schedules once; the firings started."""
    wait = body.wait if body is not None else False
    return ok(backend_of(request).tick_schedules(project, wait=wait))


@router.post(
    "/schedules/tick",
    tags=["schedules"],
    responses={200: {"model": list[Firing]}},
    dependencies=[requires(ADMIN_ONLY)],
)
def tick_all(request: Request, body: TickIn | None = None) -> Response:
    """Fire every project's due schedules once; the firings started."""
    wait = body.wait if body is not None else False
    return ok(backend_of(request).tick_schedules(None, wait=wait))


@router.post(
    "/projects/{project}/schedule-firings/{firing_id}",
    tags=["schedules"],
    responses={200: {"model": Firing}},
    dependencies=[requires("pipeline.run")],
)
def update_firing(
    request: Request, project: str, body: FiringIn, firing_id: int = Path(ge=1, le=2**62)
) -> Response:
    """Record what became of a firing's pipeline run (its run reports this)."""
    firing = backend_of(request).update_firing(
        project, firing_id, body.status, pipeline_run=body.pipeline_run, error=body.error
    )
    return ok(firing)
