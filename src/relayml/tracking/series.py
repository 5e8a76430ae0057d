"""Bounded reads of metric series for charts: at most N points per series, averaged in SQL.

``get_metric_history`` returns every point; a chart needs no more than about a thousand. Here a
series longer than ``max_points`` comes back as buckets of equal step width (the same buckets for
every run asked for, so their charts line up), each at the bucket's first step with the mean value.
Series whose points all share one step are bucketed by timestamp instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from relayml.errors import InvalidInput
from relayml.store import Store
from relayml.store.schema import metrics
from relayml.tracking.metrics import nan_to_none

__all__ = ["MAX_SERIES_POINTS", "MetricSeries", "metric_series"]

MAX_SERIES_POINTS = 1_000
MAX_RUNS = 50
MAX_KEYS = 50


@dataclass
class MetricSeries:
    """One metric's points for several runs, on a shared x (steps, or epoch ms when by_time)."""

    key: str
    by_time: bool = False
    downsampled: bool = False
    total: int = 0  # the points stored, over all the runs asked for
    points: dict[str, list[tuple[int, float | None]]] = field(default_factory=dict)

    def aligned(self) -> tuple[list[int], dict[str, list[float | None]]]:
        """The union of the x values and, per run, its values on them (None where it has none)."""
        xs = sorted({x for pts in self.points.values() for x, _ in pts})
        where = {x: i for i, x in enumerate(xs)}
        out: dict[str, list[float | None]] = {}
        for run_id, pts in self.points.items():
            row: list[float | None] = [None] * len(xs)
            for x, value in pts:
                row[where[x]] = value
            out[run_id] = row
        return xs, out


def metric_series(
    store: Store, run_ids: Sequence[str], keys: Sequence[str], *, max_points: int = 1_000
) -> list[MetricSeries]:
    """Each key's series for the runs, at most ``max_points`` per run (bucket means beyond)."""
    if not 2 <= max_points <= MAX_SERIES_POINTS * 10:
        raise InvalidInput(f"max_points must be from 2 to {MAX_SERIES_POINTS * 10}: {max_points}.")
    if len(run_ids) > MAX_RUNS or len(keys) > MAX_KEYS:
        raise InvalidInput(
            f"ask for at most {MAX_RUNS} runs and {MAX_KEYS} metrics at a time "
            f"(asked {len(run_ids)} and {len(keys)})."
        )
    if not run_ids or not keys:
        return []
    ids, wanted = list(run_ids), list(keys)
    stats = (
        select(
            metrics.c.key,
            metrics.c.run_id,
            func.count(),
            func.min(metrics.c.step),
            func.max(metrics.c.step),
            func.min(metrics.c.timestamp),
            func.max(metrics.c.timestamp),
        )
        .where(metrics.c.run_id.in_(ids), metrics.c.key.in_(wanted))
        .group_by(metrics.c.key, metrics.c.run_id)
    )
    out: list[MetricSeries] = []
    with store.read() as conn:
        per_key: dict[str, list[tuple[str, int, int, int, int, int]]] = {}
        for key, run_id, count, lo, hi, t_lo, t_hi in conn.execute(stats):
            per_key.setdefault(key, []).append((run_id, count, lo, hi, t_lo, t_hi))
        for key in wanted:
            rows = per_key.get(key)
            if not rows:
                continue
            lo = min(r[2] for r in rows)
            hi = max(r[3] for r in rows)
            by_time = lo == hi
            column = metrics.c.timestamp if by_time else metrics.c.step
            if by_time:
                lo, hi = min(r[4] for r in rows), max(r[5] for r in rows)
            series = MetricSeries(key, by_time=by_time, total=sum(r[1] for r in rows))
            width = 1
            where = (metrics.c.key == key, metrics.c.run_id.in_([r[0] for r in rows]))
            if max(r[1] for r in rows) <= max_points:
                query = (
                    select(metrics.c.run_id, column, metrics.c.value)
                    .where(*where)
                    .order_by(metrics.c.run_id, column, metrics.c.id)
                )
            else:
                series.downsampled = True
                width = max(1, -(-(hi - lo + 1) // max_points))
                bucket = (column - lo) // width
                query = (
                    select(metrics.c.run_id, bucket, func.avg(metrics.c.value))
                    .where(*where)
                    .group_by(metrics.c.run_id, bucket)
                    .order_by(metrics.c.run_id, bucket)
                )
            for run_id, x, value in conn.execute(query):
                at = int(x) if not series.downsampled else lo + int(x) * width  # bucket start
                mean = None if value is None else nan_to_none(float(value))
                series.points.setdefault(run_id, []).append((at, mean))
            out.append(series)
    return out
