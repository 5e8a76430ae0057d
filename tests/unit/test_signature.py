"""Signatures: inference from every kind of example, every error, and holding inputs to them."""

from __future__ import annotations

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
