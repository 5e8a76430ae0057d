"""The prediction log's rows of a variant's batches, made into columns in bulk by the log's thread.

The common batch (one request, float inputs, no keys, no decision table) is written straight
into columns by relayml.serving.logbuffer. Any other predicted batch is handed to the log as one
``Logged`` tuple: the arrays and lists it already holds, nothing converted. The log's writer
thread gives ``RowBuilder`` all the batches queued since its last flush at once and gets their
columns: one concatenation per column (one per matrix, for all-float inputs) instead of a dozen
small arrays per request on the request's path.

Columns, in this order: timestamp (epoch ms), prediction_id, model, version, variant, mode,
latency_ms, prediction, [request_key], [probabilities, score], [decision, decision_rule,
decision_revision], then ``input.<name>`` for each input column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain, repeat
from operator import is_, itemgetter
from typing import Any

import numpy as np

from relayml.predictions.chunks import join_column

__all__ = ["Logged", "RowBuilder"]


Logged = tuple[
    tuple[str, ...],  # ids: the prediction id of each row
    int | list[int],  # rows of each request of the batch (a number: the batch is one request)
    int | list[int],  # each request's logged time (epoch ms), as the rows
    float | list[float],  # each request's time from arrival to answer (ms), as the rows
    np.ndarray,  # values: the prediction of each row
    np.ndarray | None,  # proba: the class probabilities of each row
    list[Any] | None,  # actions: the decision table's action per row
    np.ndarray | None,  # rules: the deciding rule per row
    list[str | None] | None,  # keys: the request key per row (keyed builders only)
    Mapping[str, np.ndarray],  # arrays: the input columns
    np.ndarray | None,  # matrix: all-float inputs as one matrix, `arrays` its columns in order
]
"""One predicted batch as the log keeps it until its writer makes columns of it.

Numbers, tuples, arrays and (the inputs) a dict: the dict keeps the garbage collector tracking
the batch until it is flushed. Making it tuples only was measured in session 19 and did not
change the one-connection p99 (benchmarks/RESULTS.md), so it stays as it is.
"""


class RowBuilder:
    """Makes the log columns of batches of one variant in one context, keyed or not.

    Every batch given to one builder has the same columns; a batch that does not (another
    set of inputs, another probability width) makes the call raise ValueError, and the log then
    builds the batches one by one.
    """

    __slots__ = ("decision_revision", "input_names", "keyed", "label", "mode", "model", "version")

    def __init__(
        self,
        model: str,
        version: int,
        label: str,
        mode: str,
        decision_revision: int | None,
        input_names: Mapping[str, str],
        keyed: bool,
    ) -> None:
        self.model = model
        self.version = version
        self.label = label
        self.mode = mode
        self.decision_revision = decision_revision
        self.input_names = input_names  # input column -> its name in the log
        self.keyed = keyed

    def __call__(self, items: Sequence[Logged]) -> dict[str, Any]:
        """The columns of these batches' rows, in their order."""
        ids = list(chain.from_iterable(map(itemgetter(0), items)))
        rows = len(ids)
        counts = _each(items, 1)
        stamps = np.array(_each(items, 2), dtype=np.int64)
        latency = np.array(_each(items, 3), dtype=np.float64)
        if len(counts) != rows:  # requests of several rows: each request's figures per row
            stamps, latency = np.repeat(stamps, counts), np.repeat(latency, counts)
        record: dict[str, Any] = {
            "timestamp": stamps,
            "prediction_id": ids,
            "model": [self.model] * rows,
            "version": np.full(rows, self.version, dtype=np.int64),
            "variant": [self.label] * rows,
            "mode": [self.mode] * rows,
            "latency_ms": latency,
            "prediction": _joined(list(map(itemgetter(4), items))),
        }
        if self.keyed:
            record["request_key"] = list(chain.from_iterable(_all(items, 8)))
        if items[0][5] is not None:
            proba = _joined(_all(items, 5))
            if not isinstance(proba, np.ndarray) or proba.ndim != 2:
                raise ValueError("the batches' probabilities differ in width")
            record["probabilities"] = proba
            if proba.shape[1] == 2:
                record["score"] = proba[:, 1]
        if items[0][6] is not None:
            record["decision"] = list(chain.from_iterable(_all(items, 6)))
            record["decision_rule"] = _joined(_all(items, 7))
            record["decision_revision"] = np.full(rows, self.decision_revision, dtype=np.int64)
        record.update(self._inputs(items))
        for name, column in record.items():
            if len(column) != rows:
                raise ValueError(f"the batches' {name!r} columns hold {len(column)} of {rows} rows")
        return record

    def _inputs(self, items: Sequence[Logged]) -> dict[str, Any]:
        """The input columns, by their log names: one matrix joined when every batch has one."""
        names = tuple(items[0][9])
        logged = [self.input_names.get(n) or f"input.{n}" for n in names]
        # every batch's input names, in order (map and tuple run without a Python frame each)
        if not all(map(names.__eq__, map(tuple, map(itemgetter(9), items)))):
            raise ValueError("the batches' input columns differ")
        matrices = [item[10] for item in items if item[10] is not None]
        if len(matrices) == len(items):
            joined = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)
            columns = np.ascontiguousarray(joined.T)  # one copy; each row of it a column
            return dict(zip(logged, columns, strict=True))
        return {
            log_name: join_column([item[9][name] for item in items])
            for name, log_name in zip(names, logged, strict=True)
        }


def _each(items: Sequence[Logged], field: int) -> list[Any]:
    """A per-request field of the batches, one value per request."""
    values = list(map(itemgetter(field), items))
    if list in set(map(type, values)):  # some batches of several requests: a list each
        return [v for value in values for v in (value if isinstance(value, list) else (value,))]
    return values


def _joined(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else join_column(parts)


def _all(items: Sequence[Logged], field: int) -> list[Any]:
    """A field every batch of this builder's shape has (ValueError when one lacks it)."""
    values = list(map(itemgetter(field), items))
    if any(map(is_, values, repeat(None))):  # identity: `None in values` would compare arrays
        raise ValueError("a batch lacks a column the others have")
    return values
