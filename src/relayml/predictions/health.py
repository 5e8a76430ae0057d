"""A deployment's health from its request log: requests, errors and latency per time bucket.

Reads three columns of the window only and aggregates with NumPy, so the answer is a few hundred
points however many requests the window holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from relayml.errors import InvalidInput
from relayml.predictions.logs import PredictionLogs

__all__ = ["Health", "request_health"]


@dataclass
class Health:
    """Totals of the window and one point per bucket (bucket start in epoch seconds)."""

    requests: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    source: str = "requests"
    buckets: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    error_counts: list[int] = field(default_factory=list)
    p95_by_bucket: list[float | None] = field(default_factory=list)

    @property
    def error_rate(self) -> float | None:
        """Errors per request in the window (None without requests)."""
        return self.errors / self.requests if self.requests else None


def request_health(
    logs: PredictionLogs,
    project: str,
    deployment: str,
    *,
    days: int = 7,
    bucket: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> Health:
    """Requests, errors (status ≥ 400) and latency of a deployment over the last ``days``."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    source = "requests"
    try:
        table = logs.read(
            "requests",
            project,
            deployment,
            start=since,
            end=now,
            columns=["timestamp", "status", "ms"],
        )
    except InvalidInput:
        table = None
    if table is None or not table.num_rows:  # no request log: the predictions' latency
        source = "predictions"
        try:
            table = logs.read(
                "predictions",
                project,
                deployment,
                start=since,
                end=now,
                columns=["timestamp", "latency_ms"],
            )
        except InvalidInput:
            return Health(source="none")
        if not table.num_rows:
            return Health(source="none")
    stamps = table.column("timestamp").to_numpy(zero_copy_only=False).astype(np.int64)
    ms = table.column("ms" if source == "requests" else "latency_ms")
    latency = ms.to_numpy(zero_copy_only=False).astype(np.float64)
    if source == "requests":
        failed = table.column("status").to_numpy(zero_copy_only=False) >= 400
    else:
        failed = np.zeros(len(stamps), dtype=bool)
    width = int(bucket.total_seconds() * 1000)
    slots = stamps // width
    order = np.argsort(slots, kind="stable")
    slots, latency, failed = slots[order], latency[order], failed[order]
    keys, starts = np.unique(slots, return_index=True)
    ends = np.append(starts[1:], len(slots))
    health = Health(requests=len(stamps), errors=int(failed.sum()), source=source)
    finite = latency[np.isfinite(latency)]
    if len(finite):
        p50, p95, p99 = np.percentile(finite, [50, 95, 99])
        health.p50_ms, health.p95_ms, health.p99_ms = float(p50), float(p95), float(p99)
    for key, a, b in zip(keys, starts, ends, strict=True):
        part = latency[a:b]
        part = part[np.isfinite(part)]
        health.buckets.append(int(key) * width // 1000)
        health.counts.append(int(b - a))
        health.error_counts.append(int(failed[a:b].sum()))
        health.p95_by_bucket.append(float(np.percentile(part, 95)) if len(part) else None)
    return health
