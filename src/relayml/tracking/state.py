"""What may happen to a run: its state (status, times, deletion) and the checks on it."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select

from relayml.domain.entities import RunStatus
from relayml.errors import Conflict, NotFound
from relayml.store.fast import FastStatement
from relayml.store.schema import experiments, runs

__all__ = ["RunState", "require_live", "require_run", "require_running"]

_SELECT_STATE = FastStatement(
    select(
        runs.c.id,
        runs.c.status,
        runs.c.end_time,
        runs.c.start_time,
        runs.c.deleted_at,
        experiments.c.name,
        experiments.c.deleted_at,
    )
    .join(experiments, experiments.c.id == runs.c.experiment_id)
    .where(runs.c.id == bindparam("run_id"))
)


class RunState(NamedTuple):
    """The few columns that decide what may happen to a run."""

    id: str
    status: str
    end_time: int | None
    start_time: int
    deleted_at: int | None
    experiment: str
    experiment_deleted_at: int | None


def require_run(conn: Connection, run_id: str) -> RunState:
    """The run's id, status, times and deletion state, or NotFound."""
    found = _SELECT_STATE.first(conn, {"run_id": run_id})
    if found is None:
        raise NotFound(
            f"run {run_id!r} does not exist. Find run ids with `relay runs list` "
            "or relay.search_runs()."
        )
    return RunState(*found)


def require_live(conn: Connection, run_id: str, doing: str) -> RunState:
    """Like require_run, and Conflict if the run or its experiment was deleted."""
    row = require_run(conn, run_id)
    if row.deleted_at is not None:
        raise Conflict(
            f"cannot {doing}: run {run_id} was deleted. Restore it with "
            f"`relay runs restore {run_id}` to log to it, or start a new run."
        )
    if row.experiment_deleted_at is not None:
        raise Conflict(
            f"cannot {doing}: run {run_id} is in experiment {row.experiment!r}, which was "
            f"deleted. Restore it with `relay experiments restore {row.experiment}`."
        )
    return row


def require_running(conn: Connection, run_id: str, doing: str) -> RunState:
    """Like require_live, and Conflict unless the run is still RUNNING."""
    row = require_live(conn, run_id, doing)
    if row.status != RunStatus.RUNNING.value:
        raise Conflict(
            f"cannot {doing}: run {run_id} has already ended ({row.status}). "
            "Start a new run to log more."
        )
    return row
