"""Loading runs back with their params, latest metrics and tags.

Many runs (a search page) load in five set queries; one run (``get_run``, what every MLflow
``runs/get`` and ``runs/update`` reads) in four prebuilt statements on the driver's cursor,
which costs a tenth of building the set queries for a single id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select

from relayml.domain.entities import Run, RunStatus
from relayml.governance import audit
from relayml.store.fast import FastStatement
from relayml.store.schema import experiments, latest_metrics, projects, runs
from relayml.store.schema import params as params_t
from relayml.store.schema import tags as tags_t
from relayml.tracking.experiments import experiment_names
from relayml.tracking.metrics import none_to_nan

__all__ = ["load_run", "load_runs"]

_RUN_COLUMNS = (
    runs.c.id,
    runs.c.name,
    runs.c.status,
    runs.c.user,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.error,
    runs.c.system,
    runs.c.wall_time,
    runs.c.cpu_time,
    runs.c.peak_memory_mb,
    runs.c.deleted_at,
)
_ONE_RUN = FastStatement(
    select(*_RUN_COLUMNS, projects.c.name, experiments.c.name)
    .select_from(
        runs.join(experiments, experiments.c.id == runs.c.experiment_id).join(
            projects, projects.c.id == experiments.c.project_id
        )
    )
    .where(runs.c.id == bindparam("run_id"))
)
_ONE_PARAMS = FastStatement(
    select(params_t.c.key, params_t.c.value).where(params_t.c.run_id == bindparam("run_id"))
)
_ONE_METRICS = FastStatement(
    select(latest_metrics.c.key, latest_metrics.c.value).where(
        latest_metrics.c.run_id == bindparam("run_id")
    )
)
_ONE_TAGS = FastStatement(
    select(tags_t.c.key, tags_t.c.value).where(tags_t.c.run_id == bindparam("run_id"))
)


def _json(value: Any) -> Any:
    """A JSON column's value as SQLAlchemy returns it (SQLite's driver gives the text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _run(
    row: Sequence[Any],
    project: str,
    experiment: str,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> Run:
    (run_id, name, status, user, start, end, error, system, wall, cpu, memory, deleted) = row
    return Run(
        id=run_id,
        project=project,
        experiment=experiment,
        name=name,
        status=RunStatus(status),
        user=user,
        start_time=audit.to_datetime(start),
        end_time=audit.to_datetime(end),
        error=error,
        params=params,
        metrics=metrics,
        tags=tags,
        system=system or {},
        wall_time=wall,
        cpu_time=cpu,
        peak_memory_mb=memory,
        deleted_at=audit.to_datetime(deleted),
    )


def load_run(conn: Connection, run_id: str) -> Run | None:
    """One run with its params, latest metrics and tags (None if there is no such run)."""
    found = _ONE_RUN.first(conn, {"run_id": run_id})
    if found is None:
        return None
    key = {"run_id": run_id}
    row = list(found[: len(_RUN_COLUMNS)])
    row[7] = _json(row[7])  # system
    return _run(
        row,
        found[-2],
        found[-1],
        {k: v for k, v in _ONE_PARAMS.all(conn, key)},
        {k: none_to_nan(v) for k, v in _ONE_METRICS.all(conn, key)},
        {k: v for k, v in _ONE_TAGS.all(conn, key)},
    )


def load_runs(conn: Connection, ids: Sequence[str]) -> list[Run]:
    """Load runs with their params, latest metrics and tags, in the order of ids."""
    if not ids:
        return []
    if len(ids) == 1:
        one = load_run(conn, ids[0])
        return [] if one is None else [one]
    query = select(*_RUN_COLUMNS, runs.c.experiment_id).where(runs.c.id.in_(ids))
    rows = {r.id: r for r in conn.execute(query)}
    names = experiment_names(conn, {r.experiment_id for r in rows.values()})
    p: dict[str, dict[str, str]] = {i: {} for i in rows}
    m: dict[str, dict[str, float]] = {i: {} for i in rows}
    t: dict[str, dict[str, str]] = {i: {} for i in rows}
    for r in conn.execute(select(params_t).where(params_t.c.run_id.in_(ids))):
        p[r.run_id][r.key] = r.value
    for r in conn.execute(
        select(latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value).where(
            latest_metrics.c.run_id.in_(ids)
        )
    ):
        m[r.run_id][r.key] = none_to_nan(r.value)
    for r in conn.execute(select(tags_t).where(tags_t.c.run_id.in_(ids))):
        t[r.run_id][r.key] = r.value
    result = []
    for run_id in ids:
        row = rows.get(run_id)
        if row is None:
            continue
        project, experiment = names[row.experiment_id]
        result.append(_run(tuple(row)[:-1], project, experiment, p[run_id], m[run_id], t[run_id]))
    return result
