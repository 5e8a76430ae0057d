"""Params and metric points buffered in memory and written in batches by one background thread.

Guarantee: what a run logged is durable once ``flush()`` (or the run's end) returns. Without a
flush it waits at most ``metric_flush_interval`` seconds, or until ``metric_batch_size`` points
are waiting. Data the store refuses for good (the run ended elsewhere, a param set to another
value by another process) is dropped and the error is raised by the next ``flush()`` or end of
that run; data that failed to reach the store for a passing reason (database locked, server
down) is kept and retried. A batch of points refused as invalid is halved until the bad points are
found: only they are dropped (the first error is kept), the run's other points are stored.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING

from relayml.errors import InvalidInput, RelayError, ServerUnavailable, StoreNotReady

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


def _reraise(run_id: str, error: BaseException) -> None:
    if isinstance(error, RelayError):
        raise type(error)(f"data of run {run_id} was not stored: {error.message}") from error
    raise error


class MetricBuffer:
    """Collects params and (key, value, step, timestamp) points per run; writes them in batches."""

    def __init__(self, backend: Backend, interval: float, batch_size: int) -> None:
        self._backend = backend
        self._interval = interval
        self._batch_size = batch_size
        self._points: dict[str, list[MetricRow]] = defaultdict(list)
        self._params: dict[str, dict[str, str]] = defaultdict(dict)
        self._count = 0
        self._errors: dict[str, BaseException] = {}
        self._lock = threading.Lock()  # guards the queues, _count and _errors
        self._write_lock = threading.Lock()  # one writer at a time keeps data in order
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="relay-metrics", daemon=True)
        self._thread.start()

    def add(self, run_id: str, rows: list[MetricRow]) -> None:
        """Queue metric points of one run."""
        with self._lock:
            self._points[run_id].extend(rows)
            self._count += len(rows)
            full = self._count >= self._batch_size
        if full and not self._wake.is_set():
            self._wake.set()

    def add_params(self, run_id: str, params: dict[str, str]) -> None:
        """Queue params of one run (checked against the run's earlier params by the caller)."""
        with self._lock:
            self._params[run_id].update(params)
            self._count += len(params)

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._write()
            except BaseException:  # errors are kept per run by _write
                continue

    def _take(self) -> tuple[dict[str, dict[str, str]], dict[str, list[MetricRow]]]:
        with self._lock:
            params, self._params = self._params, defaultdict(dict)
            points, self._points = self._points, defaultdict(list)
            self._count = 0
        return params, points

    def _write(self) -> None:
        with self._write_lock:
            params, points = self._take()
            for run_id in {*params, *points}:
                run_params, rows = params.get(run_id, {}), points.get(run_id, [])
                try:
                    if run_params:
                        self._backend.log_params(run_id, run_params)
                        run_params = {}
                    if rows:
                        error, rows = self._write_points(run_id, rows)
                        if error is not None:
                            raise error
                except BaseException as exc:
                    with self._lock:
                        if _is_transient(exc):  # keep them, in order, for the next try
                            self._params[run_id] = {**run_params, **self._params[run_id]}
                            self._points[run_id][:0] = rows
                            self._count += len(rows) + len(run_params)
                        self._errors[run_id] = exc

    def _write_points(
        self, run_id: str, rows: list[MetricRow]
    ) -> tuple[BaseException | None, list[MetricRow]]:
        """Store rows, halving batches refused as invalid: (first error, rows left unwritten)."""
        pending = [rows]
        refusal: BaseException | None = None
        while pending:
            chunk = pending.pop(0)
            try:
                self._backend.log_metrics(run_id, chunk)
            except BaseException as exc:
                if _is_transient(exc):
                    return exc, [row for part in [chunk, *pending] for row in part]
                if isinstance(exc, InvalidInput) and len(chunk) > 1:  # a bad point: find it
                    middle = len(chunk) // 2
                    pending[:0] = [chunk[:middle], chunk[middle:]]
                    continue
                refusal = refusal or exc
        return refusal, []

    def flush(self, run_id: str | None = None) -> None:
        """Write everything queued so far; raise the first error of run_id (or of any run)."""
        self._write()
        with self._lock:
            if run_id is None:
                errors = list(self._errors.items())
                self._errors.clear()
            else:
                errors = [(run_id, self._errors.pop(run_id))] if run_id in self._errors else []
        if errors:
            _reraise(*errors[0])

    def drain(self, run_id: str) -> tuple[dict[str, str], list[MetricRow]]:
        """Take one run's queued params and points out (to store them with its end)."""
        with self._write_lock, self._lock:
            params = self._params.pop(run_id, {})
            rows = self._points.pop(run_id, [])
            self._count -= len(rows) + len(params)
            error = self._errors.pop(run_id, None)
        if error is not None and not _is_transient(error):
            _reraise(run_id, error)
        return params, rows

    def pending(self) -> int:
        """How many params and points wait to be written."""
        with self._lock:
            return self._count

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        self._stopped = True
        self._wake.set()
        self._thread.join(timeout=5)
        self._write()
