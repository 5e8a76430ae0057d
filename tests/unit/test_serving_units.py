"""Serving without I/O: traffic specs and variants, the request codec, and the micro-batcher."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from relayml.domain.models import ColumnSpec, Signature
from relayml.domain.serving import Variant, parse_traffic, plan_variants
from relayml.errors import InvalidInput
from relayml.models.signature import prepare_input
from relayml.serving.batcher import Batcher
from relayml.serving.codec import InputCodec, instances_of

# -- traffic specs and variants ---------------------------------------------------------------


def test_traffic_specs_are_read_with_their_shares() -> None:
    assert parse_traffic("churn", "churn/3:50, churn/4:50") == [(3, 50.0), (4, 50.0)]
    assert parse_traffic("churn", "churn/4:12.5%") == [(4, 12.5)]
    assert parse_traffic("churn", "churn/4,churn/5,") == [(4, None), (5, None)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no variants given"),
        (" , ", "no variants given"),
        ("churn/4:ten", "the weight 'ten' is not a number; write it as MODEL/VERSION:PERCENT"),
        ("churn/4:150", "above 0 and at most 100, not 150"),
        ("churn/4:0", "above 0 and at most 100, not 0"),
        ("churn/4:-5", "above 0 and at most 100, not -5"),
        ("churn/4 churn/5", r"is not MODEL/VERSION\[:PERCENT\], e.g. churn/4:10"),
        ("churn", "names no version; pin one, e.g. churn/4."),
        ("churn@production", r"names no version; pin one, e.g. churn/4 \(not @production\)"),
        ("upsell/2:10", "names the model 'upsell', but this deployment serves 'churn'"),
        ("churn/3:50,churn/3:50", "names a version twice"),
        ("churn/0", "must be a whole number from 1"),
    ],
)
def test_bad_traffic_specs_are_refused(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_traffic("churn", text)


def test_variants_of_each_strategy() -> None:
    assert plan_variants("churn", "single") == [Variant(version=None, weight=100.0)]
    assert plan_variants("churn", "single", version=3) == [Variant(version=3, weight=100.0)]
    assert plan_variants("churn", "canary", version=3, canary="churn/4:10") == [
        Variant(version=3, weight=90.0),
        Variant(version=4, weight=10.0),
    ]
    assert plan_variants("churn", "canary", canary="churn/4:10")[0].version is None
    assert plan_variants("churn", "ab", ab="churn/3:30,churn/4:70") == [
        Variant(version=3, weight=30.0),
        Variant(version=4, weight=70.0),
    ]
    equal = plan_variants("churn", "ab", ab="churn/3,churn/4,churn/5")
    assert [v.version for v in equal] == [3, 4, 5]
    assert sum(v.weight for v in equal) == pytest.approx(100.0)
    assert plan_variants("churn", "shadow", version=3, shadow="churn/4,churn/5") == [
        Variant(version=3, weight=100.0),
        Variant(version=4, weight=0.0, mode="shadow"),
        Variant(version=5, weight=0.0, mode="shadow"),
    ]


@pytest.mark.parametrize(
    ("strategy", "options", "words"),
    [
        ("canary", {}, "a canary needs a version and a share"),
        ("canary", {"canary": "churn/4"}, "--canary takes one version and its share"),
        ("canary", {"canary": "churn/4:10,churn/5:10"}, "--canary takes one version"),
        ("canary", {"canary": "churn/4:100"}, "a canary's share must be below 100%"),
        ("canary", {"version": 4, "canary": "churn/4:10"}, "churn/4 is already the primary"),
        ("canary", {"canary": "churn/4:x"}, "not a number"),
        ("canary", {"canary": "churn@staging:10"}, r"names no version.*not @staging"),
        ("canary", {"canary": "upsell/4:10"}, "names the model 'upsell'"),
        ("ab", {}, "an A/B test needs its variants"),
        ("ab", {"ab": "churn/3:100"}, "needs at least two versions"),
        ("ab", {"ab": "churn/3:50,churn/4:40"}, "the A/B shares add up to 90%, not 100%"),
        ("ab", {"ab": "churn/3:60,churn/4:60"}, "add up to 120%, not 100%"),
        ("ab", {"ab": "churn/3:50,churn/4"}, "give every A/B variant a share, or none"),
        ("ab", {"ab": "churn/3:50,churn/3:50"}, "names a version twice"),
        ("ab", {"ab": "churn/3:50,churn/4:150"}, "at most 100, not 150"),
        ("shadow", {}, "a shadow deployment needs the shadow version"),
        ("shadow", {"shadow": "churn/4:10"}, "a shadow gets a copy of every request"),
        ("shadow", {"version": 4, "shadow": "churn/4"}, "churn/4 is the live version"),
        ("shadow", {"shadow": "churn/4,churn/4"}, "names a version twice"),
    ],
)
def test_bad_strategies_are_refused(strategy: Any, options: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        plan_variants("churn", strategy, **options)


def test_two_strategies_at_once_are_refused_before_anything_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relayml.cli import app

    home = tmp_path / "home"
    monkeypatch.setenv("RELAY_HOME", str(home))
    args = ["deploy", "churn", "--env", "staging", "--canary", "churn/4:10"]
    result = CliRunner().invoke(app, [*args, "--ab", "churn/3:50,churn/4:50"])
    assert result.exit_code != 0
    assert "choose one strategy; got --canary and --ab" in result.output
    result = CliRunner().invoke(app, [*args, "--shadow", "churn/5", "--ab", "churn/3,churn/4"])
    assert "got --canary and --ab and --shadow" in result.output
    assert not home.exists()


def test_variant_labels() -> None:
    assert Variant(version=3, weight=100).label(None) == "v3"
    assert Variant(version=3, weight=100).label(5) == "v3"
    assert Variant(version=None, weight=100).label(5) == "v5"
    assert Variant(version=None, weight=100).label(None) == "alias"


# -- the request codec ------------------------------------------------------------------------

MIXED = Signature(
    inputs=[
        ColumnSpec(name="n", dtype="int64"),
        ColumnSpec(name="x", dtype="float64"),
        ColumnSpec(name="b", dtype="bool"),
        ColumnSpec(name="s", dtype="string"),
    ],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
)
NUMERIC = Signature(
    inputs=[
        ColumnSpec(name="n", dtype="int64"),
        ColumnSpec(name="x", dtype="float64"),
        ColumnSpec(name="b", dtype="bool"),
    ],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
)
FLOATS = Signature(
    inputs=[ColumnSpec(name="a", dtype="float64"), ColumnSpec(name="c", dtype="float64")],
    outputs=[ColumnSpec(name="prediction", dtype="float64")],
    output_shape=[-1],
)
MATRIX = FLOATS.model_copy(update={"input_kind": "ndarray"})
NULLABLE = Signature(
    inputs=[
        ColumnSpec(name="n", dtype="int64", nullable=True),
        ColumnSpec(name="s", dtype="string", nullable=True),
    ],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
)


def row(n: Any = 1, x: Any = 0.5, b: Any = True, s: Any = "a", **extra: Any) -> dict[str, Any]:
    return {"n": n, "x": x, "b": b, "s": s, **extra}


def tensor(name: str, datatype: str, shape: list[Any], data: Any) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def test_records_become_one_typed_array_per_column() -> None:
    columns = InputCodec(MIXED).from_records([row(), row(n=-7, x=3, b=False, s="b")])
    assert columns.rows == 2 and columns.keys is None
    assert list(columns.arrays) == ["n", "x", "b", "s"]
    assert {name: a.dtype for name, a in columns.arrays.items()} == {
        "n": np.dtype(np.int64),
        "x": np.dtype(np.float64),
        "b": np.dtype(np.bool_),
        "s": np.dtype(object),
    }
    assert columns.arrays["n"].tolist() == [1, -7]
    assert columns.arrays["x"].tolist() == [0.5, 3.0]
    assert columns.arrays["b"].tolist() == [True, False]
    assert columns.arrays["s"].tolist() == ["a", "b"]


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([row(), {"n": 1, "x": 0.5, "b": True}], r"row 1: missing s\. The model takes 4 columns"),
        ([{"n": 1}], r"row 0: missing x, b, s\."),
        ([row(z=1, y=2)], r"row 0: unexpected y, z\. The model takes 4 columns: n, x, b, s\."),
        ([{"n": 1, "x": 1, "b": True, "t": "a"}], r"row 0: missing s; unexpected t\."),
        ([row(), row(), row(x="high")], r"column 'x', row 2: \"high\" is a string, but the model "),
        ([row(n="3")], r"column 'n', row 0: \"3\" is a string, but the model needs a whole number"),
        ([row(n=1.5)], r"column 'n', row 0: 1.5 is a number, but the model needs a whole number"),
        ([row(s=4)], r"column 's', row 0: 4 is a number, but the model needs a string"),
        ([row(b=1)], r"column 'b', row 0: 1 is a number, but the model needs true or false"),
        ([row(), row(x=True)], r"column 'x', row 1: true is a boolean, but the model needs a num"),
        ([row(n=False)], r"column 'n', row 0: false is a boolean, but the model needs a whole"),
        ([row(), row(s=None)], r"column 's', row 1: null, but the model needs a string"),
        ([row(x=None)], r"column 'x', row 0: null, but the model needs a number"),
        ([row(x=[1])], r"column 'x', row 0: \[1\] is an array"),
        ([row(n=2**63)], r"column 'n', row 0: 9223372036854775808 is out of the int64 range"),
        ([row(), row(n=-(2**63) - 1)], r"column 'n', row 1: -9223372036854775809 is out of"),
        ([row(), [1, 0.5, True, "a"]], r"row 1 is an array, but rows must be records; the mod"),
        (["text"], r"row 0 is a string, but rows must be records; the model takes 4 columns"),
    ],
)
def test_bad_records_name_the_column_the_row_and_the_problem(rows: list[Any], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        InputCodec(MIXED).from_records(rows)


def test_int64_bounds_are_accepted() -> None:
    columns = InputCodec(MIXED).from_records([row(n=2**63 - 1), row(n=-(2**63))])
    assert columns.arrays["n"].tolist() == [2**63 - 1, -(2**63)]


def test_the_sticky_key_passes_through_without_reaching_the_model() -> None:
    codec = InputCodec(MIXED, passthrough=["customer_id", "n"])
    rows = [row(customer_id="c-1"), row(n=2, customer_id=42), row(n=3)]
    columns = codec.from_records(rows, key="customer_id")
    assert list(columns.arrays) == ["n", "x", "b", "s"]
    assert columns.keys == ["c-1", 42, None]
    assert columns.arrays["n"].tolist() == [1, 2, 3]
    assert codec.from_records(rows).keys is None
    with pytest.raises(InvalidInput, match="unexpected customer_id"):
        InputCodec(MIXED).from_records(rows, key="customer_id")
    by_column = codec.from_records([row(n=5)], key="n")
    assert by_column.keys == [5] and by_column.arrays["n"].tolist() == [5]


def test_nullable_columns_take_nulls() -> None:
    columns = InputCodec(NULLABLE).from_records([{"n": 1, "s": None}, {"n": None, "s": "b"}])
    assert columns.arrays["n"].tolist() == [1, None]
    assert columns.arrays["s"].tolist() == [None, "b"]
    with pytest.raises(InvalidInput, match=r"column 's', row 1: 2 is a number"):
        InputCodec(NULLABLE).from_records([{"n": 1, "s": None}, {"n": None, "s": 2}])


def test_array_models_take_lists_of_the_right_width() -> None:
    codec = InputCodec(MATRIX)
    columns = codec.from_records([[1, 2.5], [3.0, 4]])
    assert columns.arrays["a"].tolist() == [1.0, 3.0]
    assert columns.arrays["c"].tolist() == [2.5, 4.0]
    assert codec.from_records([{"a": 1, "c": 2}]).arrays["c"].tolist() == [2.0]
    with pytest.raises(InvalidInput, match=r"row 1 has 3 values; the model takes 2 per row\."):
        codec.from_records([[1, 2], [1, 2, 3]])
    with pytest.raises(InvalidInput, match=r"row 0 has 1 values; the model takes 2 per row\."):
        codec.from_records([[1]])
    with pytest.raises(InvalidInput, match=r"row 1 has an object; the model takes 2 per row\."):
        codec.from_records([[1, 2], {"a": 1, "c": 2}])
    with pytest.raises(InvalidInput, match=r"row 1 is an array, but rows must be records or lists"):
        codec.from_records([{"a": 1, "c": 2}, [1, 2]])
    with pytest.raises(InvalidInput, match=r"column 'c', row 1: \"x\" is a string"):
        codec.from_records([[1, 2], [3, "x"]])
    with pytest.raises(InvalidInput, match=r"row 0 is an array, but rows must be records; the"):
        InputCodec(FLOATS).from_records([[1, 2]])


_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False)
_RECORD = st.fixed_dictionaries(
    {"n": _INT64, "x": st.one_of(_FLOAT, _INT64), "b": st.booleans(), "s": st.text(max_size=8)}
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_RECORD, min_size=1, max_size=20))
def test_valid_records_round_trip_into_arrays(records: list[dict[str, Any]]) -> None:
    columns = InputCodec(MIXED).from_records(records)
    assert columns.rows == len(records)
    assert columns.arrays["n"].dtype == np.int64
    assert columns.arrays["n"].tolist() == [r["n"] for r in records]
    assert columns.arrays["x"].dtype == np.float64
    assert columns.arrays["x"].tolist() == [float(r["x"]) for r in records]
    assert columns.arrays["b"].tolist() == [r["b"] for r in records]
    assert columns.arrays["s"].tolist() == [r["s"] for r in records]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(_FLOAT, min_size=2, max_size=2), min_size=1, max_size=10))
def test_valid_lists_round_trip_into_arrays(rows: list[list[float]]) -> None:
    columns = InputCodec(MATRIX).from_records(rows)
    assert columns.arrays["a"].tolist() == [r[0] for r in rows]
    assert columns.arrays["c"].tolist() == [r[1] for r in rows]


def test_v2_tensors_one_per_column_flat_or_nested() -> None:
    codec = InputCodec(MIXED)
    columns = codec.from_v2(
        [
            tensor("s", "BYTES", [2], ["a", "b"]),
            tensor("n", "INT32", [2, 1], [[1], [2]]),
            tensor("x", "FP32", [2], [0.5, 1]),
            tensor("b", "BOOL", [2, 1], [[True], [False]]),
        ]
    )
    assert columns.rows == 2
    assert columns.arrays["n"].tolist() == [1, 2] and columns.arrays["n"].dtype == np.int64
    assert columns.arrays["x"].tolist() == [0.5, 1.0] and columns.arrays["x"].dtype == np.float64
    assert columns.arrays["b"].tolist() == [True, False]
    assert columns.arrays["s"].tolist() == ["a", "b"]


def test_v2_one_matrix_tensor_holds_the_columns_in_order() -> None:
    for codec in (InputCodec(MATRIX), InputCodec(FLOATS)):
        nested = codec.from_v2([tensor("input-0", "FP32", [2, 2], [[1, 2], [3, 4.5]])])
        flat = codec.from_v2([tensor("input-0", "FP64", [2, 2], [1, 2, 3, 4.5])])
        for columns in (nested, flat):
            assert columns.rows == 2
            assert columns.arrays["a"].tolist() == [1.0, 3.0]
            assert columns.arrays["c"].tolist() == [2.0, 4.5]


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ([], r'"inputs" must be a non-empty list of tensors'),
        ({"name": "a"}, r'"inputs" must be a non-empty list'),
        ([{"name": "n", "data": [1]}], r"inputs\[0\] must be an object with name, shape"),
        (
            [
                tensor("n", "FP64", [1], [1.0]),
                tensor("x", "FP64", [1], [1.0]),
                tensor("b", "BOOL", [1], [True]),
                tensor("s", "BYTES", [1], ["a"]),
            ],
            r"tensor 'n' is FP64, but column 'n' holds int64; send it as INT64\.",
        ),
        (
            [
                tensor("n", "INT64", [1], [1]),
                tensor("x", "FP64", [1], [1.0]),
                tensor("b", "INT8", [1], [1]),
                tensor("s", "BYTES", [1], ["a"]),
            ],
            r"tensor 'b' is INT8, but column 'b' holds bool; send it as BOOL\.",
        ),
        (
            [tensor("n", "INT64", [1], [1]), tensor("x", "FP64", [1], [1.0])],
            r"input tensors: missing b, s\. Send one tensor per column \(n, x, b, s\)",
        ),
        (
            [
                tensor("n", "INT64", [3], [1, 2]),
                tensor("x", "FP64", [2], [1.0, 2.0]),
                tensor("b", "BOOL", [2], [True, True]),
                tensor("s", "BYTES", [2], ["a", "b"]),
            ],
            r"tensor 'n': shape \[3\] holds 3 values but data has 2\.",
        ),
        (
            [
                tensor("n", "INT64", [2], [1, 2]),
                tensor("x", "FP64", [3], [1.0, 2.0, 3.0]),
                tensor("b", "BOOL", [2], [True, True]),
                tensor("s", "BYTES", [2], ["a", "b"]),
            ],
            r"tensor 'x' has 3 values but 'n' has 2; every column needs one value per row\.",
        ),
        (
            [
                tensor("n", "INT64", [1], [1]),
                tensor("x", "FP64", [1], [1.0]),
                tensor("b", "BOOL", [1], [True]),
                tensor("s", "BYTES", [1], ["a"]),
                tensor("z", "FP64", [1], [1.0]),
            ],
            r"input tensors: unexpected z\.",
        ),
        (
            [
                tensor("n", "INT64", [1], [1]),
                tensor("x", "FP64", [1], [True]),
                tensor("b", "BOOL", [1], [True]),
                tensor("s", "BYTES", [1], ["a"]),
            ],
            r"column 'x', row 0: true is a boolean",
        ),
        (
            [
                tensor("n", "INT64", ["1"], [1]),
                tensor("x", "FP64", [1], [1.0]),
                tensor("b", "BOOL", [1], [True]),
                tensor("s", "BYTES", [1], ["a"]),
            ],
            r"tensor 'n': shape must be a list of integers",
        ),
        (
            [tensor("input-0", "FP64", [1, 3], [1, 2, 3])],
            r"a single tensor must be 2-D \[rows, 4\]",
        ),
        (
            [tensor("input-0", "FP64", [1, 4], [1, 2, 3, 4])],
            r"tensor 'input-0' is FP64; the columns hold bool, float64, int64, string\.",
        ),
    ],
)
def test_bad_v2_tensors_are_refused(inputs: Any, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        InputCodec(MIXED).from_v2(inputs)


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        (
            [tensor("input-0", "FP64", [2, 3], [1, 2, 3, 4, 5, 6])],
            r"has shape \[2, 3\]; a single tensor must be 2-D \[rows, 2\] with the columns in "
            r"this order: a, c",
        ),
        ([tensor("input-0", "FP64", [4], [1, 2, 3, 4])], r"a single tensor must be 2-D"),
        (
            [tensor("input-0", "FP64", [3, 2], [1, 2, 3, 4])],
            r"tensor 'input-0': shape \[3, 2\] holds 6 values but data has 4\.",
        ),
        ([tensor("input-0", "FP64", [0, 2], [])], r"shape \[0, 2\] holds 0 values"),
        ([tensor("input-0", "BYTES", [1, 2], ["a", "b"])], r"is BYTES; the columns hold float64"),
        ([tensor("input-0", "BOOL", [1, 2], [True, False])], r"is BOOL; the columns hold float64"),
        ([tensor("input-0", "FP64", [1, 2], "1,2")], r"tensor 'input-0': data must be a list"),
    ],
)
def test_bad_v2_matrices_are_refused(inputs: Any, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        InputCodec(MATRIX).from_v2(inputs)


def test_a_matrix_mixing_nested_rows_and_values_is_read_or_refused_not_a_crash() -> None:
    mixed = [tensor("input-0", "FP64", [2, 2], [[1, 2], 3, 4])]
    try:
        columns = InputCodec(MATRIX).from_v2(mixed)
    except InvalidInput as exc:  # refusing it is fine
        assert "tensor 'input-0'" in str(exc)
    else:  # so is flattening it, as per-column tensors are
        assert columns.arrays["a"].tolist() == [1.0, 3.0]
        assert columns.arrays["c"].tolist() == [2.0, 4.0]


def test_empty_v2_tensors_say_there_are_no_rows() -> None:
    empty = [
        tensor("n", "INT64", [0], []),
        tensor("x", "FP64", [0], []),
        tensor("b", "BOOL", [0], []),
        tensor("s", "BYTES", [0], []),
    ]
    with pytest.raises(InvalidInput, match="the input tensors are empty: there are no rows"):
        InputCodec(MIXED).from_v2(empty)


def _records(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        row(n=start + i, x=0.25 * (start + i), b=(start + i) % 2 == 0, s=f"s{start + i}")
        for i in range(count)
    ]


def test_model_input_joins_requests_like_prepare_input() -> None:
    codec = InputCodec(MIXED)
    parts = [_records(2), _records(1, 2), _records(3, 3)]
    frame = codec.model_input([codec.from_records(p) for p in parts])
    expected = prepare_input(MIXED, [r for p in parts for r in p])
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected.reset_index(drop=True))
    assert list(frame.columns) == ["n", "x", "b", "s"] and len(frame) == 6
    assert str(frame["n"].dtype) == "int64" and str(frame["x"].dtype) == "float64"
    assert str(frame["b"].dtype) == "bool"
    single = codec.model_input([codec.from_records(parts[0])])
    pd.testing.assert_frame_equal(single, prepare_input(MIXED, parts[0]))


def test_model_input_of_numeric_columns_keeps_their_dtypes() -> None:
    codec = InputCodec(NUMERIC)
    parts = [[{k: r[k] for k in "nxb"} for r in _records(2, start)] for start in (0, 2)]
    frame = codec.model_input([codec.from_records(p) for p in parts])
    expected = prepare_input(NUMERIC, [r for p in parts for r in p])
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected.reset_index(drop=True))
    matrix = codec.model_input([codec.from_records(p) for p in parts], as_array=True)
    assert matrix.dtype == np.float64
    assert matrix.tolist() == [[0, 0.0, 1], [1, 0.25, 0], [2, 0.5, 1], [3, 0.75, 0]]


def test_model_input_of_float_columns_and_of_array_models() -> None:
    records = [{"a": 1, "c": 2.5}, {"a": 3.5, "c": -1}]
    codec = InputCodec(FLOATS)
    frame = codec.model_input([codec.from_records(records[:1]), codec.from_records(records[1:])])
    pd.testing.assert_frame_equal(frame, prepare_input(FLOATS, records))
    array_codec = InputCodec(MATRIX)
    batch = [array_codec.from_records([[1, 2.5]]), array_codec.from_records([[3.5, -1]])]
    matrix = array_codec.model_input(batch)
    assert isinstance(matrix, np.ndarray) and matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, prepare_input(MATRIX, [[1, 2.5], [3.5, -1]]))


def test_model_input_with_nullable_columns_goes_through_prepare_input() -> None:
    codec = InputCodec(NULLABLE)
    parts = [[{"n": 1, "s": None}], [{"n": None, "s": "b"}, {"n": 3, "s": "c"}]]
    frame = codec.model_input([codec.from_records(p) for p in parts])
    expected = prepare_input(NULLABLE, [r for p in parts for r in p])
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected.reset_index(drop=True))


def test_instances_of_reads_one_record_or_a_list() -> None:
    example = {"n": 1, "x": 0.5}
    assert instances_of({"n": 1, "x": 2.0}, example) == [{"n": 1, "x": 2.0}]
    assert instances_of({"instances": [{"n": 1}, {"n": 2}]}, example) == [{"n": 1}, {"n": 2}]
    assert instances_of([1, 2], [0.5, 0.5]) == [[1, 2]]
    assert instances_of([[1, 2], [3, 4]], [0.5, 0.5]) == [[1, 2], [3, 4]]
    assert instances_of({"instances": [[1, 2]]}, [0.5, 0.5]) == [[1, 2]]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"instances": []}, r'"instances" is empty: there are no rows to predict'),
        ({"instances": {"n": 1}}, r'"instances" must be a list of records, not an object'),
        ({"instances": "n=1"}, r'"instances" must be a list of records, not a string'),
        ({"instances": [{"n": 1}], "id": 3, "extra": 1}, r"unexpected keys next to instances: ex"),
        ([{"n": 1}], r"the body is an array; send one record or \{\"instances\": \[\.\.\.\]\}"),
        ("n=1", r"the body is a string"),
        (3, r"the body is a number"),
        (None, r"the body is null"),
    ],
)
def test_bad_bodies_say_how_to_send_rows(payload: Any, words: str) -> None:
    example = {"n": 1, "x": 0.5}
    with pytest.raises(InvalidInput, match=words) as raised:
        instances_of(payload, example)
    assert '{"instances": [{"n": 1, "x": 0.5}]}' in str(raised.value)


def test_a_null_body_or_row_names_every_column_the_model_takes() -> None:
    names = [f"c{i}" for i in range(7)]
    codec = InputCodec(
        Signature(
            inputs=[ColumnSpec(name=n, dtype="float64") for n in names],
            outputs=[],
            output_shape=[-1],
        )
    )
    every = "the model takes 7 columns: c0, c1, c2, c3, c4, c5, c6."
    for body in (None, "text", 3):
        with pytest.raises(InvalidInput) as raised:
            instances_of(body, codec.example, codec.names)
        assert every in str(raised.value)
    with pytest.raises(InvalidInput) as raised:
        full = {n: 1.0 for n in names}
        codec.from_records(instances_of({"instances": [full, None]}, codec.example))
    assert "row 1 is null" in str(raised.value) and every in str(raised.value)


def test_codec_examples_match_the_signature() -> None:
    assert InputCodec(MIXED).example == {"n": 1, "x": 0.5, "b": True, "s": "text"}
    assert InputCodec(MATRIX).example == [0.5, 0.5]


# -- the micro-batcher ------------------------------------------------------------------------


class Model:
    """A batch function that records its batches and threads; raises for the bad items."""

    def __init__(self, delay: float = 0.0, bad: Sequence[int] = ()) -> None:
        self.delay = delay
        self.bad = set(bad)
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.gate: threading.Event | None = None
        self.started = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        if self.delay:
            time.sleep(self.delay)
        wrong = [i for i in items if i in self.bad]
        if wrong:
            raise ValueError(f"item {wrong[0]} is bad")
        return [i * 10 for i in items]


class Abort(BaseException):
    """Not an Exception: the batcher does not retry it item by item."""


def _loop_task(name: str) -> asyncio.Task[Any]:
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == name]
    return task


@pytest.mark.parametrize("inline", [False, True])
def test_concurrent_requests_are_predicted_together_each_with_its_result(inline: bool) -> None:
    model = Model(delay=0.002)
    sizes: list[int] = []
    batcher: Batcher[int, int] = Batcher(model, lambda _: 1, name="b-many", on_batch=sizes.append)
    batcher.inline = inline

    async def main() -> list[int]:
        results = await asyncio.gather(*(batcher.submit(i) for i in range(50)))
        batcher.retire()
        return list(results)

    assert asyncio.run(main()) == [i * 10 for i in range(50)]
    assert len(model.batches) < 50
    assert sorted(i for batch in model.batches for i in batch) == list(range(50))
    assert sizes == [len(batch) for batch in model.batches]
    if inline:
        assert model.threads == {threading.current_thread().name}
    else:
        assert len(model.threads) == 1 and next(iter(model.threads)).startswith("b-many")


def test_requests_arriving_during_a_batch_form_the_next_one() -> None:
    model = Model()
    model.gate = threading.Event()
    batcher: Batcher[int, int] = Batcher(model, lambda _: 1, name="b-next")

    async def main() -> list[int]:
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.get_running_loop().run_in_executor(None, model.started.wait, 30)
        later = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 21)]
        await asyncio.sleep(0)  # every later request is queued while batch [0] runs
        assert model.gate is not None
        model.gate.set()
        results = await asyncio.gather(first, *later)
        batcher.retire()
        return list(results)

    assert asyncio.run(main()) == [i * 10 for i in range(21)]
    assert model.batches == [[0], list(range(1, 21))]


def test_max_rows_caps_each_batch() -> None:
    model = Model()
    batcher: Batcher[int, int] = Batcher(model, lambda _: 1, max_rows=8, name="b-cap")

    async def main() -> list[int]:
        results = await asyncio.gather(*(batcher.submit(i) for i in range(50)))
        batcher.retire()
        return list(results)

    assert asyncio.run(main()) == [i * 10 for i in range(50)]
    assert [len(b) for b in model.batches] == [8, 8, 8, 8, 8, 8, 2]
    assert [i for batch in model.batches for i in batch] == list(range(50))


def test_max_rows_counts_rows_and_an_oversized_request_goes_alone() -> None:
    model = Model()
    rows = {0: 3, 1: 3, 2: 3, 3: 20, 4: 1, 5: 4}
    sizes: list[int] = []
    batcher: Batcher[int, int] = Batcher(
        model, rows.__getitem__, max_rows=8, name="b-rows", on_batch=sizes.append
    )

    async def main() -> list[int]:
        results = await asyncio.gather(*(batcher.submit(i) for i in rows))
        batcher.retire()
        return list(results)

    assert asyncio.run(main()) == [i * 10 for i in rows]
    assert model.batches == [[0, 1], [2], [3], [4, 5]]
    assert sizes == [6, 3, 20, 5]


@pytest.mark.parametrize("inline", [False, True])
def test_a_bad_item_fails_only_its_own_request(inline: bool) -> None:
    model = Model(bad=[7, 13])
    batcher: Batcher[int, int] = Batcher(model, lambda _: 1, name="b-bad")
    batcher.inline = inline

    async def main() -> list[Any]:
        results = await asyncio.gather(
            *(batcher.submit(i) for i in range(20)), return_exceptions=True
        )
        batcher.retire()
        return list(results)

    results = asyncio.run(main())
    for i, result in enumerate(results):
        if i in (7, 13):
            assert isinstance(result, ValueError) and str(result) == f"item {i} is bad"
        else:
            assert result == i * 10
    assert model.batches[0] == list(range(20))
    assert [i for batch in model.batches[1:] for i in batch] == list(range(20))


@pytest.mark.parametrize("inline", [False, True])
def test_a_broken_model_fails_every_request(inline: bool) -> None:
    model = Model(bad=range(10))
    batcher: Batcher[int, int] = Batcher(model, lambda _: 1, name="b-broken")
    batcher.inline = inline

    async def main() -> list[Any]:
        results = await asyncio.gather(
            *(batcher.submit(i) for i in range(10)), return_exceptions=True
        )
        batcher.retire()
        return list(results)

    results = asyncio.run(main())
    assert all(isinstance(r, ValueError) for r in results)
    assert [str(r) for r in results] == [f"item {i} is bad" for i in range(10)]
    assert model.batches == [list(range(10))] + [[i] for i in range(10)]


@pytest.mark.parametrize("inline", [False, True])
def test_an_error_of_the_whole_batch_reaches_every_waiter_and_the_loop_goes_on(
    inline: bool,
) -> None:
    calls: list[list[int]] = []

    def run(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            raise Abort("the model process died")
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(run, lambda _: 1, name="b-abort")
    batcher.inline = inline

    async def main() -> tuple[list[Any], int]:
        results = await asyncio.gather(
            *(batcher.submit(i) for i in range(10)), return_exceptions=True
        )
        after = await batcher.submit(4)
        batcher.retire()
        return list(results), after

    results, after = asyncio.run(main())
    assert all(isinstance(r, Abort) for r in results)
    assert {str(r) for r in results} == {"the model process died"}
    assert calls[0] == list(range(10)) and after == 40


def test_retire_stops_the_loop_and_its_thread_and_a_later_submit_restarts_them() -> None:
    model = Model()
    batcher: Batcher[int, int] = Batcher(model, lambda _: 1, name="b-retire")

    def threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if re.match(r"b-retire_\d+$", t.name)]

    async def main() -> list[int]:
        pending = [asyncio.ensure_future(batcher.submit(i)) for i in range(5)]
        await asyncio.sleep(0)
        loop_task = _loop_task("b-retire")
        batcher.retire()  # the queued requests are still answered
        results = list(await asyncio.gather(*pending))
        await asyncio.wait_for(loop_task, 30)
        assert loop_task.done() and loop_task.exception() is None
        for thread in threads():
            thread.join(30)
        assert threads() == []
        results.append(await batcher.submit(9))
        assert not batcher.retired and not _loop_task("b-retire").done()
        assert len(threads()) == 1
        batcher.retire()
        await asyncio.wait_for(_loop_task("b-retire"), 30)
        return results

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 90]
    assert [i for batch in model.batches for i in batch] == [0, 1, 2, 3, 4, 9]
