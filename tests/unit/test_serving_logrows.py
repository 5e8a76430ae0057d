"""RowBuilder: the prediction log's columns of many batches made at once equal, row for row, the
columns of each batch made alone (single and multi-request batches, matrices or not, replayed
times, keys, decisions), and batches that do not fit together are refused, not mixed up."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from relayml.serving.logrows import Logged, RowBuilder

NAMES = {"a": "input.a", "b": "input.b"}


def _builder(keyed: bool = False, decisions: bool = False) -> RowBuilder:
    return RowBuilder("churn", 3, "v3", "live", 7 if decisions else None, NAMES, keyed)


def _batch(
    start: int, rows: list[int], *, matrix: bool, keyed: bool = False, decisions: bool = False
) -> Logged:
    """A batch of requests of these row counts, its values numbered from `start`."""
    total = sum(rows)
    index = np.arange(start, start + total, dtype=np.float64)
    grid = np.column_stack([index, -index])
    arrays = {"a": grid[:, 0], "b": grid[:, 1]} if matrix else {"a": index.copy(), "b": -index}
    one = len(rows) == 1
    stamps: Any = 1_000 + start if one else [1_000 + start + i for i in range(len(rows))]
    latency: Any = 0.5 if one else [0.5 + i for i in range(len(rows))]
    return (
        tuple(f"id{start + i}" for i in range(total)),
        rows[0] if one else rows,
        stamps,
        latency,
        (index % 2).astype(np.int64),
        np.column_stack([1 - index / 100, index / 100]),
        [f"act{start + i}" for i in range(total)] if decisions else None,
        np.arange(total, dtype=np.int64) if decisions else None,
        [f"k{start}"] * total if keyed else None,
        arrays,
        grid if matrix and one else None,
    )


def _rows(columns: dict[str, Any]) -> list[dict[str, Any]]:
    plain = {n: c.tolist() if isinstance(c, np.ndarray) else list(c) for n, c in columns.items()}
    count = len(plain["prediction_id"])
    assert all(len(c) == count for c in plain.values())
    return [{n: c[i] for n, c in plain.items()} for i in range(count)]


@pytest.mark.parametrize("keyed", [False, True])
@pytest.mark.parametrize("decisions", [False, True])
def test_many_batches_built_at_once_equal_each_built_alone(keyed: bool, decisions: bool) -> None:
    build = _builder(keyed, decisions)
    batches = [
        _batch(0, [1], matrix=True, keyed=keyed, decisions=decisions),
        _batch(1, [2], matrix=True, keyed=keyed, decisions=decisions),
        _batch(3, [1, 3, 1], matrix=False, keyed=keyed, decisions=decisions),
        _batch(8, [1], matrix=False, keyed=keyed, decisions=decisions),
        _batch(9, [1], matrix=True, keyed=keyed, decisions=decisions),
    ]
    together = build(batches)
    alone = [row for batch in batches for row in _rows(build([batch]))]
    assert _rows(together) == alone
    assert list(together) == [
        "timestamp", "prediction_id", "model", "version", "variant", "mode", "latency_ms",
        "prediction", *(["request_key"] if keyed else []), "probabilities", "score",
        *(["decision", "decision_rule", "decision_revision"] if decisions else []),
        "input.a", "input.b",
    ]  # fmt: skip
    first, multi = alone[0], alone[3:8]
    assert first["timestamp"] == 1_000 and first["input.a"] == 0.0 and first["input.b"] == -0.0
    assert [r["timestamp"] for r in multi] == [1_003, 1_004, 1_004, 1_004, 1_005]  # per request
    assert [r["latency_ms"] for r in multi] == [0.5, 1.5, 1.5, 1.5, 2.5]
    assert [r["input.a"] for r in alone] == [float(i) for i in range(10)]
    assert together["probabilities"].shape == (10, 2)
    assert np.array_equal(together["score"], np.arange(10) / 100)


def test_batches_that_do_not_fit_together_are_refused() -> None:
    build = _builder()
    other_inputs = _batch(1, [1], matrix=False)
    other_inputs = (*other_inputs[:9], {"a": other_inputs[9]["a"]}, None)
    with pytest.raises(ValueError, match="input columns differ"):
        build([_batch(0, [1], matrix=False), other_inputs])
    no_proba = _batch(1, [1], matrix=True)
    no_proba = (*no_proba[:5], None, *no_proba[6:])
    with pytest.raises(ValueError, match="lacks a column"):
        build([_batch(0, [1], matrix=True), no_proba])
    wide = _batch(1, [1], matrix=True)
    wide = (*wide[:5], np.ones((1, 3)) / 3, *wide[6:])
    with pytest.raises(ValueError):
        build([_batch(0, [1], matrix=True), wide])


def test_all_float_batches_are_joined_as_one_matrix_in_their_order() -> None:
    build = _builder()
    batches = [
        _batch(0, [1], matrix=True),
        _batch(1, [3], matrix=True),
        _batch(4, [1], matrix=True),
    ]
    together = build(batches)
    assert _rows(together) == [row for batch in batches for row in _rows(build([batch]))]
    assert together["input.a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert together["input.b"].tolist() == [-0.0, -1.0, -2.0, -3.0, -4.0]
    assert together["input.a"].flags.c_contiguous  # one copy, no strided views left for Arrow
