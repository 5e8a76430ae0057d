"""Metric points buffered in memory and written in batches by one background thread.

Guarantee: a point is durable once ``flush()`` (or the run's end) returns. Without a flush a
point waits at most ``metric_flush_interval`` seconds, or until ``metric_batch_size`` points
are waiting. Points that the store refuses for good (the run ended elsewhere, say) are dropped
and the error is raised by the next ``flush()`` of that run; points that failed to reach the
store for a passing reason (database locked, server down) are kept and retried.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING

from relayml.errors import RelayError, ServerUnavailable, StoreNotReady

if TYPE_CHECKING:
    from relayml.domain.ports import Backend, MetricRow

__all__ = ["MetricBuffer"]

_TRANSIENT: tuple[type[BaseException], ...] = (ServerUnavailable, StoreNotReady)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    if isinstance(exc, RelayError):
        return False
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


class MetricBuffer:
    """Collects (key, value, step, timestamp) points per run and writes them in batches."""

    def __init__(self, backend: Backend, interval: float, batch_size: int) -> None:
        self._backend = backend
        self._interval = interval
        self._batch_size = batch_size
        self._pending: dict[str, list[MetricRow]] = defaultdict(list)
        self._count = 0
        self._errors: dict[str, BaseException] = {}
        self._lock = threading.Lock()  # guards _pending, _count, _errors
        self._write_lock = threading.Lock()  # one writer at a time keeps points in order
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="relay-metrics", daemon=True)
        self._thread.start()

    def add(self, run_id: str, rows: list[MetricRow]) -> None:
        """Queue points of one run."""
        with self._lock:
            self._pending[run_id].extend(rows)
            self._count += len(rows)
            full = self._count >= self._batch_size
        if full:
            self._wake.set()

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._write()
            except BaseException:
                continue

    def _write(self) -> None:
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, defaultdict(list)
                self._count = 0
            for run_id, rows in batch.items():
                try:
                    self._backend.log_metrics(run_id, rows)
                except BaseException as exc:
                    with self._lock:
                        if _is_transient(exc):  # keep them, in order, for the next try
                            self._pending[run_id][:0] = rows
                            self._count += len(rows)
                        self._errors[run_id] = exc

    def flush(self, run_id: str | None = None) -> None:
        """Write every point queued so far; raise the first error of run_id (or any run)."""
        self._write()
        with self._lock:
            if run_id is None:
                errors = list(self._errors.items())
                self._errors.clear()
            else:
                errors = [(run_id, self._errors.pop(run_id))] if run_id in self._errors else []
        if errors:
            failed_run, exc = errors[0]
            if isinstance(exc, RelayError):
                raise type(exc)(f"metrics of run {failed_run} were not stored: {exc.message}")
            raise exc

    def pending(self) -> int:
        """How many points wait to be written."""
        with self._lock:
            return self._count

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        self._stopped = True
        self._wake.set()
        self._thread.join(timeout=5)
        self._write()
