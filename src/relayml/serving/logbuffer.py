"""Log rows written into columns as requests are answered, for the log's writer to take whole.

Why. At one connection the model server's core is never idle for long, and the log's writer
thread, when it made the columns of a second's batches at once, held the GIL for milliseconds:
each request arriving then waited for it, which was the server's p99 (benchmarks/RESULTS.md,
sessions 19 and 20). Here each answered batch writes its rows into preallocated arrays (a few
slice assignments, a few microseconds on the request's path), and a flush takes the arrays as
they are: Arrow wraps them without copying and Parquet encodes them with the GIL released.

``PredictionBuffer`` keeps the common shape: requests whose inputs were read as one float
matrix each, no request keys and no decision table, with the prediction's dtype and the number of
classes of the first batch it took. A batch of another shape returns False from ``add`` and
goes to the log as before (``ParquetLog.append_built`` with a RowBuilder), which makes the same
columns. ``RequestBuffer`` keeps the request log's (timestamp, route, status, ms) rows.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from relayml.predictions import ParquetLog

__all__ = ["PredictionBuffer", "RequestBuffer"]

CAPACITY = 2048  # rows per set of arrays; a full set is handed to the log at once


class _Kept:
    """What the buffers share: a log source (ParquetLog.add_source) of one partition's rows."""

    def __init__(self, log: ParquetLog, partition: str) -> None:
        self.log = log
        self.partition = partition
        self.retired = False
        self._lock = threading.Lock()
        self._n = 0

    def drain(self) -> list[tuple[str, Mapping[str, Any], int]]:
        """The rows kept since the last drain, as the log's columns (called by each flush)."""
        with self._lock:
            if not self._n:
                return []
            taken = self._take()
            self._fresh()
        return [taken]

    def retire(self) -> None:
        """No more rows come (the variant's context changed): the next flush takes the rest."""
        self.retired = True

    def _take(self) -> tuple[str, dict[str, Any], int]:
        """The kept rows as the log's columns (held: self._lock)."""
        raise NotImplementedError

    def _fresh(self) -> None:
        """New, empty arrays (held: self._lock)."""
        raise NotImplementedError


class PredictionBuffer(_Kept):
    """One variant's prediction log rows in one context, as columns (see the module)."""

    def __init__(
        self,
        log: ParquetLog,
        partition: str,
        constants: Mapping[str, Any],
        logged_names: Mapping[str, str],
    ) -> None:
        """`constants`: model, version, variant, mode; `logged_names`: input column -> its
        name in the log."""
        super().__init__(log, partition)
        self.constants = dict(constants)
        self.logged_names = logged_names
        self.input_names: list[str] = []
        self._names: tuple[str, ...] = ()
        self._shape: tuple[Any, int | None, int] | None = None  # dtype, classes, inputs
        self._cap = 0
        self._ids: list[str] = []
        log.add_source(self)

    def add(
        self,
        ids: Sequence[str],
        stamp: int | np.ndarray,
        latency: float | np.ndarray,
        values: np.ndarray,
        proba: np.ndarray | None,
        matrix: np.ndarray,
        arrays: Mapping[str, np.ndarray],
    ) -> bool:
        """Keep one batch's rows (`matrix` holds the input columns `arrays` names, in order;
        `stamp` and `latency` one for all rows, or one per row); False when they are not of
        this buffer's shape (the caller logs them the general way). Rows the full log refuses
        are dropped and counted."""
        rows = len(ids)
        width = None if proba is None else proba.shape[1]
        names = tuple(arrays)
        with self._lock:
            shape = self._shape
            if shape is None:
                shape = self._shape = (values.dtype, width, matrix.shape[1])
                self._names = names
                self.input_names = [self.logged_names.get(n) or f"input.{n}" for n in names]
                self._fresh()
            elif (
                values.dtype != shape[0]
                or width != shape[1]
                or matrix.shape[1] != shape[2]
                or names != self._names
            ):
                return False
            if not self.log.reserve(rows):
                return True
            n = self._n
            if n + rows > self._cap:
                self._hand_over()
                n = 0
                if rows > self._cap:
                    self._fresh_for(rows)
            end = n + rows
            self._stamps[n:end] = stamp
            self._latency[n:end] = latency
            self._values[n:end] = values
            if proba is not None and self._proba is not None:
                self._proba[n:end] = proba
            self._matrix[n:end] = matrix
            self._ids += ids
            self._n = end
        return True

    def _hand_over(self) -> None:
        if self._n:
            partition, columns, rows = self._take()
            self.log.queue_reserved(partition, columns, rows)
        self._fresh()

    def _fresh(self) -> None:
        self._fresh_for(CAPACITY)

    def _fresh_for(self, rows: int) -> None:
        assert self._shape is not None
        dtype, classes, inputs = self._shape
        self._cap = max(rows, CAPACITY)
        self._n = 0
        self._stamps = np.empty(self._cap, dtype=np.int64)
        self._latency = np.empty(self._cap, dtype=np.float64)
        self._values = np.empty(self._cap, dtype=dtype)
        self._proba = None if classes is None else np.empty((self._cap, classes), dtype=np.float64)
        self._matrix = np.empty((self._cap, inputs), dtype=np.float64)
        self._ids = []

    def _take(self) -> tuple[str, dict[str, Any], int]:
        """In RowBuilder's order (see relayml.serving.logrows)."""
        n = self._n
        record: dict[str, Any] = {
            "timestamp": self._stamps[:n],
            "prediction_id": self._ids,
            "model": pa.repeat(self.constants["model"], n),
            "version": np.full(n, self.constants["version"], dtype=np.int64),
            "variant": pa.repeat(self.constants["variant"], n),
            "mode": pa.repeat(self.constants["mode"], n),
            "latency_ms": self._latency[:n],
            "prediction": self._values[:n],
        }
        if self._proba is not None:
            proba = self._proba[:n]
            record["probabilities"] = proba
            if proba.shape[1] == 2:
                record["score"] = proba[:, 1]
        columns = np.ascontiguousarray(self._matrix[:n].T)  # one copy; each row a column
        record.update(zip(self.input_names, columns, strict=True))
        return self.partition, record, n


class RequestBuffer(_Kept):
    """The request log's rows of one partition: (timestamp, route, status, ms) as columns."""

    def __init__(self, log: ParquetLog, partition: str) -> None:
        super().__init__(log, partition)
        self._stamps = np.empty(CAPACITY, dtype=np.int64)
        self._status = np.empty(CAPACITY, dtype=np.int64)
        self._ms = np.empty(CAPACITY, dtype=np.float64)
        self._routes: list[str] = []
        log.add_source(self)

    def add(self, stamp: int, route: str, status: int, ms: float) -> None:
        with self._lock:
            if not self.log.reserve(1):
                return
            n = self._n
            if n == CAPACITY:
                self.log.queue_reserved(*self._take())
                self._fresh()
                n = 0
            self._stamps[n] = stamp
            self._status[n] = status
            self._ms[n] = ms
            self._routes.append(route)
            self._n = n + 1

    def _fresh(self) -> None:
        self._n = 0
        self._stamps = np.empty(CAPACITY, dtype=np.int64)
        self._status = np.empty(CAPACITY, dtype=np.int64)
        self._ms = np.empty(CAPACITY, dtype=np.float64)
        self._routes = []

    def _take(self) -> tuple[str, dict[str, Any], int]:
        n = self._n
        columns = {
            "timestamp": self._stamps[:n],
            "route": self._routes,
            "status": self._status[:n],
            "ms": self._ms[:n],
        }
        return self.partition, columns, n
