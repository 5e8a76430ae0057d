"""Use cases on metric series: append points (and the latest point per key), read a series."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select

from relayml.domain.entities import MetricPoint
from relayml.domain.ports import MetricRow
from relayml.errors import InvalidInput, NotFound
from relayml.governance import audit
from relayml.store import Store
from relayml.store.fast import FastStatement, upsert_insert
from relayml.store.schema import latest_metrics, metrics
from relayml.tracking.state import require_run, require_running

__all__ = [
    "append_points",
    "get_metric_history",
    "log_metrics",
    "metric_history_rows",
    "nan_to_none",
    "none_to_nan",
]

_INSERT_METRICS = FastStatement(metrics.insert())
_HISTORY = FastStatement(
    select(metrics.c.value, metrics.c.step, metrics.c.timestamp)
    .where(metrics.c.run_id == bindparam("run_id"), metrics.c.key == bindparam("key"))
    .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_ALL = 2**62  # the limit of "every point" (one statement for both; SQL has no LIMIT-all value)


def nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _upsert_statement(dialect: str, table: Any, keys: list[str], columns: list[str]) -> Any:
    insert = upsert_insert(dialect)
    stmt = insert(table)
    where = None
    if table is latest_metrics:  # keep the point with the highest (step, timestamp)
        ex = stmt.excluded
        where = (ex.step > table.c.step) | (
            (ex.step == table.c.step) & (ex.timestamp >= table.c.timestamp)
        )
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in columns}, where=where
    )


@functools.cache
def _latest_upsert(dialect: str) -> FastStatement:
    return FastStatement(
        _upsert_statement(
            dialect, latest_metrics, ["run_id", "key"], ["value", "step", "timestamp"]
        )
    )


def append_points(conn: Connection, run_id: str, points: Sequence[MetricRow]) -> None:
    rows: list[dict[str, Any]] = [
        {"run_id": run_id, "key": k, "value": nan_to_none(v), "step": s, "timestamp": t}
        for k, v, s, t in points
    ]
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        prev = last.get(row["key"])
        if prev is None or (row["step"], row["timestamp"]) >= (prev["step"], prev["timestamp"]):
            last[row["key"]] = row
    _INSERT_METRICS.execute(conn, rows)
    _latest_upsert(conn.dialect.name).execute(conn, list(last.values()))


def log_metrics(store: Store, actor: str, run_id: str, points: Sequence[MetricRow]) -> None:
    """Append metric points to a running run in one transaction (points already validated)."""
    if not points:
        return
    with store.write() as conn:
        require_running(conn, run_id, "log metrics")
        append_points(conn, run_id, points)
        audit.record(
            conn,
            actor=actor,
            action="run.log_metrics",
            entity_kind="run",
            entity_id=run_id,
            after={"points": len(points), "keys": sorted({p[0] for p in points})},
        )


def metric_history_rows(
    store: Store, run_id: str, key: str, *, limit: int | None = None, offset: int = 0
) -> list[tuple[float | None, int, int]]:
    """(value, step, timestamp) of one series by step then time, NaN as None: all, or limit of
    them from offset; NotFound for an unknown run, or a series with no points at offset 0."""
    if (limit is not None and limit < 1) or offset < 0:
        raise InvalidInput(f"limit must be at least 1 and offset at least 0: {limit}, {offset}.")
    params = {"run_id": run_id, "key": key, "limit": _ALL if limit is None else limit}
    with store.read() as conn:
        require_run(conn, run_id)
        rows = _HISTORY.all(conn, {**params, "offset": offset})
    if not rows and offset == 0:
        with store.read() as conn:
            known = sorted(
                conn.scalars(select(latest_metrics.c.key).where(latest_metrics.c.run_id == run_id))
            )
        raise NotFound(
            f"run {run_id} has no metric {key!r} (it has: {', '.join(known) or 'no metrics'})."
        )
    return rows


def get_metric_history(
    store: Store, run_id: str, key: str, *, limit: int | None = None, offset: int = 0
) -> list[MetricPoint]:
    """The points of one metric series by step then time: all, or limit of them from offset."""
    return [
        MetricPoint(key=key, value=none_to_nan(value), step=step, timestamp=timestamp)
        for value, step, timestamp in metric_history_rows(
            store, run_id, key, limit=limit, offset=offset
        )
    ]
