"""The model server's log columns written a request at a time (relayml.serving.logbuffer): the
same rows, columns and types as the batches built in bulk by RowBuilder, through a real
ParquetLog and read back from its Parquet files; the log's bound, hand-over and retirement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from relayml.predictions import ParquetLog, read_log
from relayml.predictions.chunks import to_arrow
from relayml.serving.logbuffer import CAPACITY, PredictionBuffer, RequestBuffer
from relayml.serving.logrows import Logged, RowBuilder

PART = "project=churn/deployment=churn-production"
NOON = 1_767_614_400_000  # 2026-01-05 12:00 UTC, epoch ms
NAMES = {"a": "input.a", "b": "input.b", "c": "input.c"}
CONSTANTS = {"model": "churn", "version": 3, "variant": "v3", "mode": "live"}


def _batches(kind: str, count: int, seed: int = 0) -> list[Logged]:
    """Single-request batches of 1-3 float rows: a binary classifier, a 3-class one with text
    labels, or a regressor (no probabilities)."""
    rng = np.random.default_rng(seed)
    out: list[Logged] = []
    for i in range(count):
        rows = 1 + i % 3
        matrix = rng.normal(size=(rows, 3))
        proba: np.ndarray | None
        if kind == "binary":
            p = rng.random(rows)
            proba = np.column_stack([1 - p, p])
            values: np.ndarray = (p > 0.5).astype(np.int64)
        elif kind == "labels":
            proba = rng.dirichlet(np.ones(3), size=rows)
            values = np.array(["low", "mid", "high"])[proba.argmax(axis=1)]
        else:
            proba, values = None, matrix.sum(axis=1)
        ids = tuple(f"{i:04d}-{j}" for j in range(rows))
        arrays = {name: matrix[:, k] for k, name in enumerate(NAMES)}
        out.append((ids, rows, NOON + i, 0.25 * i, values, proba, None, None, None, arrays, matrix))
    return out


def _table(columns: dict[str, Any]) -> pa.Table:
    return pa.table({name: to_arrow(name, values) for name, values in columns.items()})


def _buffer(log: ParquetLog) -> PredictionBuffer:
    return PredictionBuffer(log, PART, CONSTANTS, NAMES)


def _add(buffer: PredictionBuffer, item: Logged) -> bool:
    ids, _rows, stamp, latency, values, proba, *_, arrays, matrix = item
    assert isinstance(stamp, int) and isinstance(latency, float) and matrix is not None
    return buffer.add(list(ids), stamp, latency, values, proba, matrix, arrays)


@pytest.mark.parametrize("kind", ["binary", "labels", "regression"])
def test_the_buffer_writes_the_rows_the_bulk_builder_makes(tmp_path: Path, kind: str) -> None:
    batches = _batches(kind, 40)
    total = sum(len(item[0]) for item in batches)
    built = RowBuilder("churn", 3, "v3", "live", None, NAMES, keyed=False)(batches)
    with ParquetLog(str(tmp_path / "log"), flush_interval=3600) as log:
        buffer = _buffer(log)
        assert all(_add(buffer, item) for item in batches)
        assert log.stats["rows_buffered"] == total
        ((partition, columns, rows),) = buffer.drain()
        assert (partition, rows) == (PART, total) and buffer.drain() == []
        assert _table(dict(columns)).equals(_table(built))  # same names, order, types, values
        for item in batches:  # and again, this time through the log's own flush
            _add(buffer, item)
    table = read_log(str(tmp_path / "log"), PART)
    expected = _table(built)
    assert (
        table.select(expected.column_names)
        .sort_by("prediction_id")
        .equals(expected.sort_by("prediction_id"))
    )


def test_a_batch_of_another_shape_is_refused_and_left_to_the_caller(tmp_path: Path) -> None:
    with ParquetLog(str(tmp_path / "log"), flush_interval=3600) as log:
        buffer = _buffer(log)
        first = _batches("binary", 1)[0]
        assert _add(buffer, first)
        other_dtype = _batches("regression", 1)[0]  # float predictions, no probabilities
        assert not _add(buffer, other_dtype)
        three_classes = _batches("labels", 1)[0]
        assert not _add(buffer, three_classes)
        ids, *_, values, proba, _actions, _rules, _keys, arrays, matrix = first
        renamed = {f"x{k}": v for k, v in enumerate(arrays.values())}
        assert matrix is not None
        assert not buffer.add(list(ids), NOON, 0.5, values, proba, matrix, renamed)
        assert log.stats["rows_buffered"] == 1  # only the first one is kept


def test_a_full_set_of_columns_is_handed_to_the_log_and_nothing_is_lost(tmp_path: Path) -> None:
    batches = _batches("binary", CAPACITY)  # 1-3 rows each: about twice the capacity
    total = sum(len(item[0]) for item in batches)
    with ParquetLog(str(tmp_path / "log"), flush_interval=3600, flush_rows=10**6) as log:
        buffer = _buffer(log)
        for item in batches:
            _add(buffer, item)
        assert len(log._queue) >= 1, "a full set waits in the log's queue"
        assert log.stats["rows_buffered"] == total
    ids = read_log(str(tmp_path / "log"), PART, columns=["prediction_id"])["prediction_id"]
    assert sorted(ids.to_pylist()) == sorted(i for item in batches for i in item[0])


def test_the_log_bound_drops_and_counts_rows_the_buffer_would_keep(tmp_path: Path) -> None:
    with ParquetLog(str(tmp_path / "log"), flush_interval=3600, max_rows=5) as log:
        buffer = _buffer(log)
        for item in _batches("binary", 4):  # 1, 2, 3, 1 rows: the third does not fit
            assert _add(buffer, item)
        stats = log.stats
        assert stats["rows_buffered"] == 4 and stats["rows_dropped"] == 3
        log.flush()
        assert log.stats["rows_written"] == 4 and log.stats["rows_buffered"] == 0


def test_a_retired_buffer_is_written_once_more_then_forgotten(tmp_path: Path) -> None:
    with ParquetLog(str(tmp_path / "log"), flush_interval=3600) as log:
        buffer = _buffer(log)
        _add(buffer, _batches("binary", 1)[0])
        buffer.retire()
        log.flush()
        assert log.stats["rows_written"] == 1
        assert buffer not in log._sources


def test_request_rows_are_kept_as_the_request_log_columns(tmp_path: Path) -> None:
    with ParquetLog(str(tmp_path / "log"), flush_interval=3600) as log:
        buffer = RequestBuffer(log, PART)
        for i in range(CAPACITY + 5):  # one hand-over on the way
            buffer.add(NOON + i, "/predict" if i % 2 else "/v2/models/churn/infer", 200, 0.5)
        buffer.add(NOON, "/predict", 422, 0.1)
    table = read_log(str(tmp_path / "log"), PART)
    assert table.num_rows == CAPACITY + 6
    assert [(f.name, f.type) for f in table.schema][:4] == [
        ("timestamp", pa.int64()), ("route", pa.string()), ("status", pa.int64()),
        ("ms", pa.float64()),
    ]  # fmt: skip
    assert table.filter(pa.compute.equal(table["status"], 422)).num_rows == 1
