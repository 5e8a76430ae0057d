"""Use cases on runs: create, end, delete and restore, params, tags, and loading them back.

Metric series are in `tracking.metrics`, the checks on a run's state in `tracking.state`,
loading runs back in `tracking.loading`; they are re-exported here for callers of the run use
cases.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from relayml.domain.entities import Run, RunStatus
from relayml.domain.names import run_name
from relayml.domain.ports_tracking import MetricRow
from relayml.domain.validation import (
    check_name,
    check_params,
    check_tags,
    check_time_ms,
)
from relayml.errors import Conflict, InvalidInput
from relayml.governance import audit
from relayml.projects import project_id
from relayml.store import Store, now_ms
from relayml.store.fast import FastStatement, upsert_insert
from relayml.store.schema import params as params_t
from relayml.store.schema import runs
from relayml.store.schema import tags as tags_t
from relayml.tracking.experiments import ensure_experiment
from relayml.tracking.loading import load_run, load_runs
from relayml.tracking.metrics import append_points, get_metric_history, log_metrics
from relayml.tracking.state import RunState, require_live, require_run, require_running

__all__ = [
    "MetricRow",
    "RunState",
    "create_run",
    "delete_run",
    "end_run",
    "get_metric_history",
    "get_run",
    "load_runs",
    "log_metrics",
    "log_params",
    "require_live",
    "require_run",
    "require_running",
    "restore_run",
    "set_tags",
]


_INSERT_RUN = FastStatement(runs.insert(), json_params=("system",))
_INSERT_TAGS = FastStatement(tags_t.insert())
_INSERT_PARAMS = FastStatement(params_t.insert())
_SELECT_PARAMS = FastStatement(
    select(params_t.c.key, params_t.c.value).where(params_t.c.run_id == bindparam("run_id"))
)
_END_RUN = FastStatement(
    update(runs)
    .where(runs.c.id == bindparam("b_run_id"))
    .values(
        status=bindparam("b_status"),
        end_time=bindparam("b_end_time"),
        error=bindparam("b_error"),
        wall_time=bindparam("b_wall_time"),
        cpu_time=bindparam("b_cpu_time"),
        peak_memory_mb=bindparam("b_peak_memory_mb"),
    )
)


def create_run(
    store: Store,
    actor: str,
    project: str,
    experiment: str,
    *,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    system: Mapping[str, Any] | None = None,
    start_time: int | None = None,
) -> Run:
    """Start a run in an experiment (created if it does not exist yet)."""
    if name is not None:
        check_name(name, "run")
    clean_tags = check_tags(tags or {})
    start = now_ms() if start_time is None else check_time_ms(start_time, "start_time")
    run_id = uuid.uuid4().hex  # random: the first characters tell runs apart
    values: dict[str, Any] = {
        "id": run_id,
        "name": name or run_name(),
        "status": RunStatus.RUNNING.value,
        "user": actor,
        "start_time": start,
        "system": dict(system or {}),
    }
    with store.write() as conn:
        pid = project_id(conn, project)
        eid = ensure_experiment(conn, actor, project, pid, experiment)
        _INSERT_RUN.execute(conn, {"project_id": pid, "experiment_id": eid, **values})
        if clean_tags:
            _INSERT_TAGS.execute(
                conn,
                [{"run_id": run_id, "key": k, "value": v} for k, v in clean_tags.items()],
            )
        audit.record(
            conn,
            actor=actor,
            action="run.create",
            entity_kind="run",
            entity_id=run_id,
            after={"project": project, "experiment": experiment, "name": values["name"]},
        )
    return Run(
        id=run_id,
        project=project,
        experiment=experiment,
        name=values["name"],
        status=RunStatus.RUNNING,
        user=actor,
        start_time=audit.to_datetime(values["start_time"]),
        tags=clean_tags,
        system=values["system"],
    )


def get_run(store: Store, run_id: str) -> Run:
    """A run with its params, latest metrics and tags, or NotFound."""
    with store.read() as conn:
        found = load_run(conn, run_id)
        if found is None:
            require_run(conn, run_id)  # raises the run's NotFound
            raise AssertionError(f"run {run_id} has no experiment")  # pragma: no cover
        return found


def _set_deleted(store: Store, actor: str, run_id: str, delete: bool) -> Run:
    with store.write() as conn:
        row = require_run(conn, run_id)
        if delete and row.deleted_at is not None:
            raise Conflict(
                f"run {run_id} is already deleted (since {audit.to_datetime(row.deleted_at)}); "
                f"`relay runs restore {run_id}` brings it back."
            )
        if not delete and row.deleted_at is None:
            raise Conflict(f"run {run_id} is not deleted.")
        if not delete and row.experiment_deleted_at is not None:
            raise Conflict(
                f"run {run_id} is in experiment {row.experiment!r}, which is deleted: restore "
                f"experiment {row.experiment!r} first (`relay experiments restore "
                f"{row.experiment}`)."
            )
        at = now_ms() if delete else None
        conn.execute(update(runs).where(runs.c.id == run_id).values(deleted_at=at))
        audit.record(
            conn,
            actor=actor,
            action="run.delete" if delete else "run.restore",
            entity_kind="run",
            entity_id=run_id,
            before={"deleted_at": row.deleted_at},
            after={"deleted_at": at},
        )
        return load_runs(conn, [run_id])[0]


def delete_run(store: Store, actor: str, run_id: str) -> Run:
    """Hide a run from searches and refuse logging to it (restorable, nothing is erased)."""
    return _set_deleted(store, actor, run_id, True)


def restore_run(store: Store, actor: str, run_id: str) -> Run:
    """Bring a deleted run back; Conflict if it is not deleted or its experiment is."""
    return _set_deleted(store, actor, run_id, False)


def end_run(
    store: Store,
    actor: str,
    run_id: str,
    status: RunStatus | str,
    *,
    error: str | None = None,
    end_time: int | None = None,
    cpu_time: float | None = None,
    peak_memory_mb: float | None = None,
    params: Mapping[str, Any] | None = None,
    points: Sequence[MetricRow] = (),
) -> None:
    """End a running run as FINISHED, FAILED or KILLED, with its last params and points."""
    clean = check_params(params or {})
    try:
        final = RunStatus(status)
    except ValueError as exc:
        raise InvalidInput(
            f"status {status!r} is not one of {', '.join(s.value for s in RunStatus)}."
        ) from exc
    if not final.is_terminal:
        raise InvalidInput("a run can only be ended as FINISHED, FAILED or KILLED.")
    if end_time is not None:
        check_time_ms(end_time, "end_time")
    with store.write() as conn:
        row = require_running(conn, run_id, f"end run as {final.value}")
        new = _store_params(conn, run_id, clean) if clean else {}
        if points:
            append_points(conn, run_id, points)
        end = now_ms() if end_time is None else end_time
        _END_RUN.execute(
            conn,
            {
                "b_run_id": run_id,
                "b_status": final.value,
                "b_end_time": end,
                "b_error": error,
                "b_wall_time": max(0.0, (end - row.start_time) / 1000),
                "b_cpu_time": cpu_time,
                "b_peak_memory_mb": peak_memory_mb,
            },
        )
        after: dict[str, Any] = {"status": final.value, "error": error}
        if new:
            after["params"] = new
        if points:
            after["points"] = len(points)
        audit.record(
            conn,
            actor=actor,
            action="run.end",
            entity_kind="run",
            entity_id=run_id,
            before={"status": row.status},
            after=after,
        )


def _store_params(conn: Connection, run_id: str, clean: dict[str, str]) -> dict[str, str]:
    """Insert the params a run does not have yet; Conflict if one has another value."""
    existing = {
        key: value for key, value in _SELECT_PARAMS.all(conn, {"run_id": run_id}) if key in clean
    }
    for key, old in existing.items():
        if old != clean[key]:
            raise Conflict(
                f"param {key!r} of run {run_id} is already {old!r}; it cannot become "
                f"{clean[key]!r} (params are immutable: start a new run to try another value)."
            )
    new = {k: v for k, v in clean.items() if k not in existing}
    if new:
        _INSERT_PARAMS.execute(
            conn, [{"run_id": run_id, "key": k, "value": v} for k, v in new.items()]
        )
    return new


def log_params(store: Store, actor: str, run_id: str, values: Mapping[str, Any]) -> None:
    """Set params of a run; a param already set to another value is a Conflict."""
    clean = check_params(values)
    if not clean:
        return
    with store.write() as conn:
        require_running(conn, run_id, "log params")
        new = _store_params(conn, run_id, clean)
        if new:
            audit.record(
                conn,
                actor=actor,
                action="run.log_params",
                entity_kind="run",
                entity_id=run_id,
                after=new,
            )


def set_tags(store: Store, actor: str, run_id: str, values: Mapping[str, Any]) -> None:
    """Set (or overwrite) tags of a run."""
    clean = check_tags(values)
    if not clean:
        return
    with store.write() as conn:
        require_live(conn, run_id, "set tags")
        before = {
            r.key: r.value
            for r in conn.execute(
                select(tags_t.c.key, tags_t.c.value).where(
                    tags_t.c.run_id == run_id, tags_t.c.key.in_(list(clean))
                )
            )
        }
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in clean.items()]
        conn.execute(_tags_upsert(conn.dialect.name), rows)
        audit.record(
            conn,
            actor=actor,
            action="run.set_tags",
            entity_kind="run",
            entity_id=run_id,
            before=before or None,
            after=clean,
        )


@functools.cache
def _tags_upsert(dialect: str) -> Any:
    stmt = upsert_insert(dialect)(tags_t)
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"], set_={"value": stmt.excluded["value"]}
    )
