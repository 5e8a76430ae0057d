"""Signatures: inference from every kind of example, every error, and holding inputs to them."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from relayml.domain.models import ColumnSpec, Signature
from relayml.errors import InvalidInput
from relayml.models.predictor import Predictor
from relayml.models.signature import infer_signature, prepare_input

RNG = np.random.default_rng(7)
ROWS = 80
FEATURES = pd.DataFrame(
    {
        "tenure": RNG.integers(0, 72, ROWS),
        "charges": RNG.normal(70.0, 20.0, ROWS),
        "calls": RNG.poisson(2.0, ROWS),
        "paperless": RNG.random(ROWS) > 0.5,
    }
)
LABELS = (FEATURES["charges"] - FEATURES["tenure"] > 20).astype(int)
CLASSIFIER = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(FEATURES, LABELS)
SIGNATURE = infer_signature(CLASSIFIER, FEATURES)


class Constant:
    """A model that says 0 to every row, whatever the columns hold."""

    def predict(self, data: Any) -> np.ndarray:
        return np.zeros(len(data), dtype=np.int64)


class Failing:
    """A model whose predict raises."""

    def predict(self, data: Any) -> np.ndarray:
        raise ValueError("boom: feature 7 is out of range")


class TwoOutputs:
    """A model that returns two floats per row."""

    def predict(self, data: Any) -> np.ndarray:
        return np.zeros((len(data), 2))


def _message(call: Any, *args: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        call(*args)
    return error.value.message


# -- inference -------------------------------------------------------------------------------------


def test_infer_from_a_dataframe_of_a_classifier() -> None:
    expected = Signature(
        inputs=[
            ColumnSpec(name="tenure", dtype="int64"),
            ColumnSpec(name="charges", dtype="float64"),
            ColumnSpec(name="calls", dtype="int64"),
            ColumnSpec(name="paperless", dtype="bool"),
        ],
        input_kind="dataframe",
        outputs=[ColumnSpec(name="prediction", dtype="int64")],
        output_shape=[-1],
        task="classification",
        classes=[0, 1],
        has_proba=True,
    )
    assert expected == SIGNATURE
    assert all(type(value) is int for value in SIGNATURE.classes or [])


def test_dtypes_are_normalised() -> None:
    frame = pd.DataFrame(
        {
            "i8": np.array([1, 2, 3], dtype=np.int8),
            "u32": np.array([1, 2, 3], dtype=np.uint32),
            "f32": np.array([1.5, 2.5, np.nan], dtype=np.float32),
            "f16": np.array([1, 2, 3], dtype=np.float16),
            "flag": [True, False, True],
            "name": ["a", "b", None],
            "objects": pd.Series(["x", "y", "z"], dtype=object),
            "plan": pd.Series(["basic", "pro", "basic"], dtype="category"),
            "nullable_int": pd.array([1, None, 3], dtype="Int64"),
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
            "when_utc": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"], utc=True),
        }
    )
    signature = infer_signature(Constant(), frame)
    assert [(c.name, c.dtype, c.nullable) for c in signature.inputs] == [
        ("i8", "int64", False),
        ("u32", "int64", False),
        ("f32", "float64", True),
        ("f16", "float64", False),
        ("flag", "bool", False),
        ("name", "string", True),
        ("objects", "string", False),
        ("plan", "string", False),
        ("nullable_int", "int64", True),
        ("when", "datetime64[ns]", False),
        ("when_utc", "datetime64[ns, UTC]", False),
    ]
    assert signature.task == "other" and signature.classes is None and not signature.has_proba


def test_infer_from_an_ndarray() -> None:
    data = FEATURES[["tenure", "charges"]].to_numpy(dtype=np.float32)
    model = LinearRegression().fit(data, FEATURES["calls"].to_numpy())
    signature = infer_signature(model, data)
    assert signature.input_kind == "ndarray"
    assert [(c.name, c.dtype) for c in signature.inputs] == [("f0", "float64"), ("f1", "float64")]
    assert signature.outputs == [ColumnSpec(name="prediction", dtype="float64")]
    assert (signature.task, signature.has_proba, signature.classes) == ("regression", False, None)
    ints = infer_signature(Constant(), np.arange(6, dtype=np.int16).reshape(3, 2))
    assert [c.dtype for c in ints.inputs] == ["int64", "int64"]


def test_infer_from_records_and_arrow() -> None:
    records = FEATURES.head(5).to_dict(orient="records")
    assert infer_signature(CLASSIFIER, records) == SIGNATURE
    table = pa.Table.from_pandas(FEATURES, preserve_index=False)
    assert infer_signature(CLASSIFIER, table) == SIGNATURE


def test_string_classes_and_two_dimensional_outputs() -> None:
    names = np.where(LABELS == 1, "churn", "stay")
    model = LogisticRegression(max_iter=500).fit(FEATURES, names)
    signature = infer_signature(model, FEATURES)
    assert signature.outputs == [ColumnSpec(name="prediction", dtype="string")]
    assert signature.classes == ["churn", "stay"] and signature.task == "classification"
    wide = infer_signature(TwoOutputs(), FEATURES)
    assert wide.output_shape == [-1, 2] and wide.task == "regression"


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        (pd.DataFrame({"a": []}), "the input example is empty: give at least one row"),
        (pd.DataFrame(index=[0, 1]), "the input example is empty"),
        ([], "the input example is empty"),
        (np.empty((0, 3)), "the input example is empty"),
        ({"tenure": 3, "charges": 1.5}, "cannot use a dict as the input example (wrap one row"),
        ("tenure=3", "cannot use a str as the input example; use a pandas DataFrame, a pyarrow"),
        (np.zeros((2, 3, 4)), "the input example is a 3-D array; use a pandas DataFrame"),
        (np.zeros(3), "is a 1-D array (for one row, use array.reshape(1, -1))"),
        ([[1, 2], [3, 4]], "the input example is a list of something other than dicts"),
    ],
    ids=["no-rows", "no-columns", "empty-list", "empty-array", "dict", "str", "3d", "1d", "lists"],
)
def test_examples_relayml_cannot_describe(example: Any, expected: str) -> None:
    assert expected in _message(infer_signature, Constant(), example)


def test_columns_relayml_cannot_describe_are_named() -> None:
    lists = pd.DataFrame({"ok": [1, 2], "tags": [["a"], ["b", "c"]]})
    assert _message(infer_signature, Constant(), lists) == (
        "column 'tags' of the input example holds list, which relayml cannot describe; "
        "columns may hold booleans, integers, floats, strings or datetimes."
    )
    dicts = [{"ok": 1, "meta": {"k": 1}}, {"ok": 2, "meta": {"k": 2}}]
    assert "column 'meta' of the input example holds dict" in _message(
        infer_signature, Constant(), dicts
    )
    nothing = [{"ok": 1, "gap": None}, {"ok": 2, "gap": None}]
    assert "column 'gap' of the input example has only missing values" in _message(
        infer_signature, Constant(), nothing
    )
    mixed = pd.DataFrame({"ok": [1, 2], "code": [1, "B7"]})
    assert "column 'code' of the input example holds mixed values (int, str)" in _message(
        infer_signature, Constant(), mixed
    )
    complex_array = np.ones((2, 2), dtype=np.complex128)
    assert "an array of complex128, which relayml cannot describe" in _message(
        infer_signature, Constant(), complex_array
    )


def test_predict_failing_on_the_example_says_why() -> None:
    assert _message(infer_signature, Failing(), FEATURES) == (
        "the model's predict() failed on the input example: "
        "ValueError: boom: feature 7 is out of range"
    )


# -- prepare_input ---------------------------------------------------------------------------------


def test_a_correct_dataframe_passes_untouched() -> None:
    assert prepare_input(SIGNATURE, FEATURES) is FEATURES


def test_every_problem_in_one_message() -> None:
    bad = FEATURES.drop(columns=["charges", "calls"]).assign(
        tenure=FEATURES["tenure"].astype(str), zone=1, region="x"
    )
    assert _message(prepare_input, SIGNATURE, bad) == (
        "input does not match the model's signature: missing columns: charges, calls; "
        "extra columns: zone, region; mistyped columns: 'tenure' expected int64, got string"
    )


def test_mistyped_columns_say_what_they_hold() -> None:
    row = {"tenure": 3.5, "charges": "high", "calls": None, "paperless": 1}
    assert _message(prepare_input, SIGNATURE, row) == (
        "input does not match the model's signature: mistyped columns: "
        "'tenure' expected int64, got float64 with non-integral values; "
        "'charges' expected float64, got string; "
        "'calls' expected int64, got only missing values; "
        "'paperless' expected bool, got int64"
    )


def test_records_and_a_single_dict_become_one_frame() -> None:
    rows = [
        {"paperless": True, "calls": 2, "charges": 80.5, "tenure": 12},
        {"paperless": False, "calls": 0, "charges": 20.0, "tenure": 40},
    ]
    frame = prepare_input(SIGNATURE, rows)
    assert list(frame.columns) == ["tenure", "charges", "calls", "paperless"]
    assert [str(t) for t in frame.dtypes] == ["int64", "float64", "int64", "bool"]
    single = prepare_input(SIGNATURE, rows[0])
    pd.testing.assert_frame_equal(single, frame.head(1))
    np.testing.assert_array_equal(
        Predictor(CLASSIFIER, SIGNATURE).predict(rows),
        CLASSIFIER.predict(pd.DataFrame(rows)[list(FEATURES.columns)]),
    )


def test_ints_widen_to_floats_and_whole_floats_narrow_to_ints() -> None:
    data = FEATURES.head(3).assign(
        charges=[70, 80, 90], tenure=[1.0, 2.0, 3.0], calls=np.array([1, 2, 3], dtype=np.int8)
    )
    frame = prepare_input(SIGNATURE, data)
    assert frame["charges"].dtype == np.float64 and frame["charges"].tolist() == [70.0, 80.0, 90.0]
    assert frame["tenure"].dtype == np.int64 and frame["calls"].dtype == np.int64
    assert data["tenure"].dtype == np.float64  # the caller's frame is not changed


def test_column_order_follows_the_signature() -> None:
    shuffled = FEATURES[["paperless", "calls", "tenure", "charges"]]
    frame = prepare_input(SIGNATURE, shuffled)
    assert list(frame.columns) == ["tenure", "charges", "calls", "paperless"]


def test_arrow_input_and_empty_input() -> None:
    table = pa.Table.from_pandas(FEATURES.head(4), preserve_index=False)
    pd.testing.assert_frame_equal(prepare_input(SIGNATURE, table), FEATURES.head(4))
    for empty in ([], {}, FEATURES.head(0)):
        assert _message(prepare_input, SIGNATURE, empty) == "no rows to predict"


def test_named_columns_refuse_an_array() -> None:
    assert _message(prepare_input, SIGNATURE, FEATURES.to_numpy()) == (
        "the model takes named columns (tenure, charges, calls, paperless); pass a DataFrame, "
        "a pyarrow Table, a list of dicts or one dict, not an array."
    )


def test_nullable_and_datetime_columns() -> None:
    signature = Signature(
        inputs=[
            ColumnSpec(name="visits", dtype="int64", nullable=True),
            ColumnSpec(name="joined", dtype="datetime64[ns]"),
            ColumnSpec(name="plan", dtype="string"),
        ],
        outputs=[ColumnSpec(name="prediction", dtype="int64")],
        output_shape=[-1],
    )
    rows = [
        {"visits": 3, "joined": "2024-01-31", "plan": "pro"},
        {"visits": None, "joined": "2024-02-29T10:00:00", "plan": None},
    ]
    frame = prepare_input(signature, rows)
    assert str(frame["visits"].dtype) == "Int64" and frame["visits"].isna().tolist() == [
        False,
        True,
    ]
    assert frame["joined"].dtype.kind == "M"
    assert frame["joined"].iloc[1] == pd.Timestamp("2024-02-29 10:00")
    dates = prepare_input(signature, [{"visits": 1, "joined": date(2024, 3, 1), "plan": "x"}])
    assert dates["joined"].iloc[0] == pd.Timestamp("2024-03-01")
    assert infer_signature(Constant(), [{"joined": date(2024, 3, 1)}]).inputs == [
        ColumnSpec(name="joined", dtype="datetime64[ns]")
    ]
    bad = [{"visits": 1, "joined": "last tuesday", "plan": 7}]
    assert _message(prepare_input, signature, bad) == (
        "input does not match the model's signature: mistyped columns: "
        "'joined' expected datetime64[ns], got strings that are not ISO 8601 dates; "
        "'plan' expected string, got int64"
    )


def test_ndarray_signatures() -> None:
    data = FEATURES[["tenure", "charges"]].to_numpy(dtype=np.float64)
    model = LinearRegression().fit(data, FEATURES["calls"].to_numpy())
    signature = infer_signature(model, data)
    assert prepare_input(signature, data) is data
    ints = prepare_input(signature, np.array([[1, 2], [3, 4]]))
    assert ints.dtype == np.float64
    np.testing.assert_array_equal(prepare_input(signature, [[1.0, 2.0]]), [[1.0, 2.0]])
    as_frame = prepare_input(signature, [{"f0": 1, "f1": 2.5}])
    np.testing.assert_array_equal(as_frame, [[1.0, 2.5]])
    assert _message(prepare_input, signature, np.ones((2, 3))) == (
        "input does not match the model's signature: expected a 2-D array of 2 columns, "
        "got 3 columns."
    )
    assert _message(prepare_input, signature, np.array([["a", "b"]])) == (
        "input does not match the model's signature: expected an array of float64, got string."
    )
    assert "missing columns: f1; extra columns: x" in _message(
        prepare_input, signature, {"f0": 1.0, "x": 2.0}
    )


# -- values a column cannot hold -------------------------------------------------------------------

MISMATCH = "input does not match the model's signature: "
PRICES = Signature(
    inputs=[
        ColumnSpec(name="tenure", dtype="int64"),
        ColumnSpec(name="charges", dtype="float64"),
        ColumnSpec(name="discount", dtype="float64", nullable=True),
    ],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
)


def _signature(*specs: ColumnSpec, kind: Any = "dataframe") -> Signature:
    return Signature(
        inputs=list(specs),
        input_kind=kind,
        outputs=[ColumnSpec(name="prediction", dtype="int64")],
        output_shape=[-1],
    )


def test_float_columns_refuse_missing_values_unless_nullable() -> None:
    rows = [
        {"tenure": 1, "charges": None, "discount": None},
        {"tenure": 2, "charges": math.nan, "discount": 0.5},
        {"tenure": 3, "charges": 9.5, "discount": math.nan},
    ]
    assert _message(prepare_input, PRICES, rows) == (
        MISMATCH + "mistyped columns: 'charges' expected float64, got missing values in 2 rows"
    )
    frame = pd.DataFrame(rows).assign(charges=[1.0, 2.0, 3.0])
    assert prepare_input(PRICES, frame) is frame  # NaN where nullable: still the cheap path
    assert prepare_input(PRICES, rows[2])["discount"].isna().tolist() == [True]
    # Already float64, so once passed untouched: the values are checked all the same.
    gap = FEATURES.head(3).assign(charges=[70.0, np.nan, 80.0])
    assert _message(prepare_input, SIGNATURE, gap) == (
        MISMATCH + "mistyped columns: 'charges' expected float64, got missing values in 1 row"
    )
    assert "'charges' expected float64, got missing values in 1 row" in _message(
        prepare_input, SIGNATURE, {"tenure": 1, "charges": None, "calls": 1, "paperless": True}
    )


def test_float_columns_refuse_infinite_values_even_when_nullable() -> None:
    frame = pd.DataFrame(
        {"tenure": [1, 2, 3], "charges": [1.0, np.inf, -np.inf], "discount": [np.inf, np.nan, 1.0]}
    )
    assert _message(prepare_input, PRICES, frame) == (
        MISMATCH + "mistyped columns: 'charges' expected float64, got infinite values in 2 rows; "
        "'discount' expected float64, got infinite values in 1 row"
    )
    rows = [
        {"tenure": 1, "charges": None, "discount": 0.0},
        {"tenure": 2, "charges": -math.inf, "discount": 0.0},
    ]
    assert _message(prepare_input, PRICES, rows) == (
        MISMATCH + "mistyped columns: 'charges' expected float64, "
        "got missing values in 1 row and infinite values in 1 row"
    )


def test_many_float_columns_are_checked_at_once_without_a_copy() -> None:
    specs = [ColumnSpec(name=f"x{i}", dtype="float64", nullable=i == 2) for i in range(6)]
    signature = _signature(ColumnSpec(name="n", dtype="int64"), *specs)
    frame = pd.DataFrame({"n": [1, 2], **{f"x{i}": [0.5, 1.5] for i in range(6)}})
    assert prepare_input(signature, frame) is frame
    holes = frame.assign(x2=[np.nan, 1.0])
    assert prepare_input(signature, holes) is holes
    bad = frame.assign(x1=[np.nan, np.nan], x4=[0.0, np.inf])
    assert _message(prepare_input, signature, bad) == (
        MISMATCH + "mistyped columns: 'x1' expected float64, got missing values in 2 rows; "
        "'x4' expected float64, got infinite values in 1 row"
    )


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        (2.0**62, True),
        (-(2.0**63), True),
        (2.0**63, False),
        (1e30, False),
        (-1e30, False),
    ],
)
def test_floats_narrowed_to_int64_must_fit(value: float, fits: bool) -> None:
    row = {"tenure": value, "charges": 1.0, "calls": 1, "paperless": True}
    if fits:
        assert prepare_input(SIGNATURE, row)["tenure"].tolist() == [int(value)]
    else:
        assert _message(prepare_input, SIGNATURE, row) == (
            MISMATCH + "mistyped columns: 'tenure' expected int64, got values outside the int64 "
            "range in 1 row"
        )


def test_integers_too_large_for_their_column_are_refused_by_name() -> None:
    rows = [
        {"tenure": 10**20, "charges": 1.0, "calls": 2**63, "paperless": True},
        {"tenure": -(10**20), "charges": 10**400, "calls": 1, "paperless": False},
    ]
    assert _message(prepare_input, SIGNATURE, rows) == (
        MISMATCH + "mistyped columns: 'tenure' expected int64, got values outside the int64 range "
        "in 2 rows; 'charges' expected float64, got integers too large for float64; "
        "'calls' expected int64, got values outside the int64 range in 1 row"
    )
    unsigned = FEATURES.head(2).assign(calls=np.array([2**64 - 1, 3], dtype=np.uint64))
    assert _message(prepare_input, SIGNATURE, unsigned) == (
        MISMATCH + "mistyped columns: 'calls' expected int64, got values outside the int64 range "
        "in 1 row"
    )
    fits = prepare_input(SIGNATURE, unsigned.assign(calls=np.array([2**63 - 1, 3], np.uint64)))
    assert fits["calls"].dtype == np.int64 and fits["calls"].tolist() == [2**63 - 1, 3]


def test_value_problems_are_listed_with_every_other_problem() -> None:
    row = {"tenure": 1e30, "charges": None, "calls": 10**20, "paperless": 1, "zone": 3}
    assert _message(prepare_input, SIGNATURE, row) == (
        MISMATCH + "extra columns: zone; mistyped columns: "
        "'tenure' expected int64, got values outside the int64 range in 1 row; "
        "'charges' expected float64, got missing values in 1 row; "
        "'calls' expected int64, got values outside the int64 range in 1 row; "
        "'paperless' expected bool, got int64"
    )


def test_ndarray_values_are_checked_column_by_column() -> None:
    floats = _signature(
        ColumnSpec(name="f0", dtype="float64"),
        ColumnSpec(name="f1", dtype="float64", nullable=True),
        kind="ndarray",
    )
    data = np.array([[1.0, np.nan], [2.0, 3.0]])
    assert prepare_input(floats, data) is data
    np.testing.assert_array_equal(prepare_input(floats, [[1, None], [2, 3]]), data)
    assert _message(prepare_input, floats, np.array([[np.nan, np.inf], [1.0, 2.0]])) == (
        MISMATCH + "mistyped columns: 'f0' expected float64, got missing values in 1 row; "
        "'f1' expected float64, got infinite values in 1 row"
    )
    assert _message(prepare_input, floats, [[None, 1], [2, 3]]) == (
        MISMATCH + "mistyped columns: 'f0' expected float64, got missing values in 1 row"
    )
    ints = _signature(
        ColumnSpec(name="f0", dtype="int64"), ColumnSpec(name="f1", dtype="int64"), kind="ndarray"
    )
    assert _message(prepare_input, ints, [[10**20, 1], [2, 3]]) == (
        MISMATCH + "mistyped columns: 'f0' expected int64, got values outside the int64 range "
        "in 1 row"
    )
    assert _message(prepare_input, ints, np.array([[1.0, 1e30], [2.0, -np.inf]])) == (
        MISMATCH + "mistyped columns: 'f1' expected int64, got values outside the int64 range "
        "in 1 row and infinite values in 1 row"
    )
    assert prepare_input(ints, np.array([[1.0, 2.0]])).dtype == np.int64


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [[1.0, 2.0], [3.0]],
            "the rows have different lengths (1 and 2 values); each row must have 2 values.",
        ),
        (
            [[1.0, 2.0], [3.0, 4.0, 5.0], []],
            "the rows have different lengths (0, 2 and 3 values); each row must have 2 values.",
        ),
        (
            [[1.0, 2.0], 3.0],
            "the rows do not make a 2-D array; each row must be a list of 2 values.",
        ),
    ],
    ids=["short", "three-lengths", "scalar-row"],
)
def test_uneven_nested_lists_are_refused(rows: list[Any], expected: str) -> None:
    signature = _signature(
        ColumnSpec(name="f0", dtype="float64"),
        ColumnSpec(name="f1", dtype="float64"),
        kind="ndarray",
    )
    assert _message(prepare_input, signature, rows) == MISMATCH + expected


def test_an_example_with_infinite_values_is_refused() -> None:
    frame = FEATURES.head(3).assign(charges=[1.0, np.inf, 2.0])
    assert _message(infer_signature, Constant(), frame) == (
        "column 'charges' of the input example holds infinite values, which inputs may not hold; "
        "give an example with finite numbers."
    )
    assert "columns 'f1', 'f2' of the input example hold infinite values" in _message(
        infer_signature, Constant(), np.array([[1.0, np.inf, -np.inf]])
    )


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=12),
    nullable=st.booleans(),
)
def test_float_checks_count_what_they_refuse(values: list[float], nullable: bool) -> None:
    signature = _signature(ColumnSpec(name="x", dtype="float64", nullable=nullable))
    frame = pd.DataFrame({"x": np.array(values, dtype=np.float64)})
    missing = 0 if nullable else sum(math.isnan(value) for value in values)
    infinite = sum(math.isinf(value) for value in values)
    if not missing and not infinite:
        assert prepare_input(signature, frame) is frame
        return
    message = _message(prepare_input, signature, frame)
    assert message.startswith(MISMATCH + "mistyped columns: 'x' expected float64, got ")
    assert (f"missing values in {missing} row" in message) == bool(missing)
    assert (f"infinite values in {infinite} row" in message) == bool(infinite)


@settings(max_examples=80, deadline=None)
@given(whole=st.integers(-(2**70), 2**70))
def test_whole_floats_narrow_to_int64_only_within_its_range(whole: int) -> None:
    value = float(whole)
    row = {"tenure": value, "charges": 1.0, "calls": 1, "paperless": True}
    if -(2**63) <= value < 2**63:
        assert prepare_input(SIGNATURE, row)["tenure"].tolist() == [int(value)]
    else:
        assert "'tenure' expected int64, got values outside the int64 range" in _message(
            prepare_input, SIGNATURE, row
        )


@settings(max_examples=40, deadline=None)
@given(
    order=st.permutations(list(FEATURES.columns)),
    rows=st.lists(st.integers(0, ROWS - 1), min_size=1, max_size=12),
)
def test_any_column_order_gives_the_same_predictions(order: list[str], rows: list[int]) -> None:
    predictor = Predictor(CLASSIFIER, SIGNATURE, name="churn", version=1, flavor="sklearn")
    expected = CLASSIFIER.predict_proba(FEATURES.iloc[rows])
    shuffled = FEATURES.iloc[rows][order]
    np.testing.assert_allclose(predictor.predict_proba(shuffled), expected, rtol=1e-12)
    np.testing.assert_array_equal(
        predictor.predict(shuffled), CLASSIFIER.predict(FEATURES.iloc[rows])
    )
    records = shuffled.to_dict(orient="records")
    np.testing.assert_allclose(predictor.predict_proba(records), expected, rtol=1e-12)
