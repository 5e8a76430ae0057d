"""Evaluation computations: hand-checked metrics, segments, KPI estimates and every bad input."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from relayml.domain.entities import KPI
from relayml.errors import InvalidInput
from relayml.models.evaluation import evaluate_predictions, kpi_estimates
from relayml.models.metrics import (
    classification_metrics,
    detect_task,
    regression_metrics,
    segment_metrics,
)

# Ten rows: TP=3 (rows 0-2), FN=1 (row 3), FP=1 (row 4), TN=5 (rows 5-9).
Y_TRUE = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
Y_PRED = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0])
P1 = np.array([0.9, 0.8, 0.7, 0.4, 0.6, 0.3, 0.2, 0.1, 0.1, 0.05])
PROBA = np.column_stack([1 - P1, P1])


def _plain_json(value: Any) -> None:
    """Assert a value holds only plain Python types (no numpy scalars), all JSON-able."""
    json.dumps(value, allow_nan=False)
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            _plain_json(item)
    elif isinstance(value, list):
        for item in value:
            _plain_json(item)
    else:
        assert value is None or type(value) in (bool, int, float, str), type(value)


def _kpi(name: str, definition: dict[str, Any], **kw: Any) -> KPI:
    return KPI(name=name, definition=definition, **kw)


# --- detect_task -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y_true", "y_pred", "has_proba", "expected"),
    [
        ([0, 1, 1], [0, 1, 0], False, "classification"),
        (["a", "b"], ["a", "a"], False, "classification"),
        ([True, False], [True, True], False, "classification"),
        ([0.0, 1.0, 1.0], [1.0, 1.0, 0.0], False, "classification"),
        ([1.5, 2.0, 3.0], [1.0, 2.0, 3.0], False, "regression"),
        ([1, 2, 3], [1.2, 2.0, 2.9], False, "regression"),
        (list(range(50)), list(range(50)), False, "regression"),
        ([1.5, 2.5], [1.0, 2.0], True, "classification"),
    ],
)
def test_detect_task(y_true: list[Any], y_pred: list[Any], has_proba: bool, expected: str) -> None:
    assert detect_task(np.array(y_true), np.array(y_pred), has_proba) == expected


# --- classification ----------------------------------------------------------------------------


def test_binary_metrics_match_hand_counts() -> None:
    metrics, details = classification_metrics(Y_TRUE, Y_PRED, PROBA, None)
    assert metrics["accuracy"] == 0.8
    assert metrics["precision"] == 0.75  # 3 / (3 + 1)
    assert metrics["recall"] == 0.75  # 3 / (3 + 1)
    assert metrics["f1"] == 0.75
    assert metrics["positive_rate"] == 0.4
    assert metrics["rows"] == 10
    assert details["confusion_matrix"] == {"labels": [0, 1], "matrix": [[5, 1], [1, 3]]}
    assert details["positive_class"] == 1
    assert details["skipped"] == {}
    # 23 of the 24 (positive, negative) pairs are ranked right: only 0.4 < 0.6.
    assert metrics["roc_auc"] == pytest.approx(23 / 24)
    assert metrics["roc_auc"] == skm.roc_auc_score(Y_TRUE, P1)
    assert metrics["brier"] == pytest.approx(1.0125 / 10)
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(Y_TRUE, PROBA))


def test_binary_calibration_curve() -> None:
    curve = classification_metrics(Y_TRUE, Y_PRED, PROBA, None)[1]["calibration_curve"]
    assert curve["edges"] == [i / 10 for i in range(11)]
    assert curve["count"] == [1, 2, 1, 1, 1, 0, 1, 1, 1, 1]
    assert curve["mean_predicted"][1] == pytest.approx(0.1)
    assert curve["fraction_positive"][1] == 0.0
    assert curve["mean_predicted"][5] is None and curve["fraction_positive"][5] is None
    assert curve["fraction_positive"][9] == 1.0
    assert sum(curve["count"]) == 10


def test_one_dimensional_proba_is_the_positive_class() -> None:
    assert classification_metrics(Y_TRUE, Y_PRED, P1, None)[0] == pytest.approx(
        classification_metrics(Y_TRUE, Y_PRED, PROBA, None)[0]
    )


def test_positive_class_is_classes_1_or_the_larger_label() -> None:
    yt = np.array(["yes", "yes", "no", "no"])
    yp = np.array(["yes", "no", "no", "no"])
    metrics, details = classification_metrics(yt, yp, None, None)
    assert details["positive_class"] == "yes"
    assert (metrics["precision"], metrics["recall"]) == (1.0, 0.5)
    metrics, details = classification_metrics(yt, yp, None, ["yes", "no"])
    assert details["positive_class"] == "no"
    assert (metrics["precision"], metrics["recall"]) == (2 / 3, 1.0)
    assert details["confusion_matrix"]["labels"] == ["yes", "no"]
    assert details["confusion_matrix"]["matrix"] == [[1, 1], [0, 2]]


def test_only_one_class_skips_auc_without_nan_or_warning() -> None:
    yt = np.zeros(6, dtype=int)
    yp = np.array([0, 0, 0, 0, 1, 1])
    proba = np.column_stack([np.full(6, 0.7), np.full(6, 0.3)])
    metrics, details = classification_metrics(yt, yp, proba, [0, 1])
    assert "roc_auc" not in metrics
    assert "only one class (0)" in details["skipped"]["roc_auc"]
    assert metrics["precision"] == 0.0 and metrics["recall"] == 0.0
    assert metrics["brier"] == pytest.approx(0.09)
    assert all(np.isfinite(v) for v in metrics.values())


def test_without_probabilities_the_proba_metrics_say_why() -> None:
    metrics, details = classification_metrics(Y_TRUE, Y_PRED, None, None)
    assert {"roc_auc", "log_loss", "brier"}.isdisjoint(metrics)
    assert details["skipped"]["roc_auc"] == "no predicted probabilities were given"
    assert "calibration_curve" not in details


def test_proba_rows_not_summing_to_one_skip_log_loss() -> None:
    proba = PROBA.copy()
    proba[0] = [0.5, 0.9]
    metrics, details = classification_metrics(Y_TRUE, Y_PRED, proba, None)
    assert "log_loss" not in metrics
    assert "do not sum to 1" in details["skipped"]["log_loss"]


def test_proba_columns_unmatched_without_classes_are_skipped() -> None:
    yt, yp = np.array([1, 1, 1]), np.array([1, 1, 1])
    metrics, details = classification_metrics(yt, yp, np.tile([0.2, 0.8], (3, 1)), None)
    assert "pass classes" in details["skipped"]["roc_auc"]
    assert metrics["accuracy"] == 1.0


def test_labels_the_model_does_not_know_are_counted_wrong() -> None:
    yt = np.array([0, 1, 2, 1])
    yp = np.array([0, 1, 1, 1])
    metrics, details = classification_metrics(yt, yp, np.tile([0.5, 0.5], (4, 1)), [0, 1])
    assert metrics["accuracy"] == 0.75
    assert details["confusion_matrix"]["labels"] == [0, 1, 2]
    assert "no probability for: [2]" in details["skipped"]["log_loss"]


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(7)
    yt = rng.choice(["a", "b", "c"], 60)
    proba = rng.dirichlet([1, 1, 1], 60)
    yp = np.array(["a", "b", "c"])[proba.argmax(axis=1)]
    metrics, details = classification_metrics(yt, yp, proba, ["a", "b", "c"])
    assert metrics["accuracy"] == skm.accuracy_score(yt, yp)
    assert metrics["precision"] == skm.precision_score(yt, yp, average="macro", zero_division=0)
    assert metrics["f1"] == skm.f1_score(yt, yp, average="macro", zero_division=0)
    assert metrics["roc_auc"] == skm.roc_auc_score(yt, proba, multi_class="ovr")
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(yt, proba))
    assert set(details["skipped"]) == {"positive_rate", "brier"}
    # The same model with its classes in another order gives the same figures.
    order = [2, 0, 1]
    shuffled = classification_metrics(yt, yp, proba[:, order], ["c", "a", "b"])[0]
    assert shuffled == pytest.approx(metrics)


def test_multiclass_auc_skipped_when_a_class_is_absent() -> None:
    yt = np.array([0, 1, 0, 1])
    proba = np.tile([0.2, 0.3, 0.5], (4, 1))
    metrics, details = classification_metrics(yt, np.array([2, 1, 0, 1]), proba, [0, 1, 2])
    assert details["skipped"]["roc_auc"] == "classes absent from y_true: [2]"
    assert "log_loss" in metrics


# --- regression --------------------------------------------------------------------------------


def test_regression_metrics_by_hand() -> None:
    metrics, details = regression_metrics(np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 5]))
    assert metrics == pytest.approx(
        {"mae": 0.25, "rmse": 0.5, "r2": 0.8, "mape": 0.0625, "rows": 4}
    )
    residuals = details["residuals"]
    assert residuals["mean"] == -0.25
    assert residuals["quantiles"]["min"] == -1.0
    assert residuals["quantiles"]["p50"] == 0.0
    assert residuals["quantiles"]["max"] == 0.0
    assert details["skipped"] == {}


def test_mape_skipped_when_y_true_has_zeros() -> None:
    metrics, details = regression_metrics(np.array([0.0, 1, 2]), np.array([0.5, 1, 2]))
    assert "mape" not in metrics
    assert details["skipped"]["mape"] == "y_true has 1 zeros and MAPE divides by y_true"
    assert metrics["mae"] == pytest.approx(0.5 / 3)


def test_r2_skipped_for_a_constant_target() -> None:
    metrics, details = regression_metrics(np.array([3.0, 3.0]), np.array([2.0, 4.0]))
    assert "r2" not in metrics
    assert "constant" in details["skipped"]["r2"]


def test_regression_refuses_text_and_infinity() -> None:
    with pytest.raises(InvalidInput, match="needs numbers"):
        regression_metrics(np.array(["a", "b"]), np.array([1.0, 2.0]))
    with pytest.raises(InvalidInput, match="infinite"):
        regression_metrics(np.array([1.0, 2.0]), np.array([1.0, np.inf]))


# --- segments ----------------------------------------------------------------------------------


def _segment_frame() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    region = ["north"] * 20 + ["south"] * 20 + ["east"] * 3 + [None] * 20
    yt = np.array(([0, 1] * 10) * 2 + [1, 1, 1] + [1] * 20)
    yp = yt.copy()
    yp[20:30] = 1 - yp[20:30]  # half of south is wrong
    yp[43:48] = 0  # five of the missing-region rows are wrong
    return pd.DataFrame({"region": region, "y": yt}), yt, yp


def test_segments_hold_the_metrics_of_their_rows() -> None:
    frame, yt, yp = _segment_frame()
    segments = segment_metrics(frame, "region", yt, yp, None, "classification", None)
    assert set(segments) == {"north", "south", "east", "(missing)"}
    assert segments["north"]["accuracy"] == 1.0
    assert segments["south"]["accuracy"] == 0.5
    assert segments["south"]["recall"] == 0.5
    assert segments["east"] == {"rows": 3}
    assert segments["(missing)"]["accuracy"] == 0.75
    assert segments["(missing)"]["rows"] == 20
    # Recall of a segment without positives is 0, not NaN; AUC there is left out.
    proba = np.column_stack([1 - yp, yp]).astype(float)
    only_ones = segment_metrics(frame, "region", yt, yp, proba, "classification", None)
    assert "roc_auc" not in only_ones["(missing)"]
    assert only_ones["north"]["roc_auc"] == 1.0


def test_segment_keys_are_strings_and_min_rows_is_respected() -> None:
    frame = pd.DataFrame({"tier": [1, 1, 2, 2, 2]})
    yt = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    segments = segment_metrics(frame, "tier", yt, yt + 1, None, "regression", None, min_rows=2)
    assert segments == {
        "1": {"mae": 1.0, "rmse": 1.0, "r2": -3.0, "mape": 0.75, "rows": 2},
        "2": pytest.approx(
            {"mae": 1.0, "rmse": 1.0, "r2": -0.5, "mape": (1 / 3 + 1 / 4 + 1 / 5) / 3, "rows": 3}
        ),
    }


def test_segment_by_a_missing_column_lists_the_columns() -> None:
    frame, yt, yp = _segment_frame()
    with pytest.raises(InvalidInput, match=r"'regon' is not a column.*columns: region, y"):
        segment_metrics(frame, "regon", yt, yp, None, "classification", None)


# --- KPIs --------------------------------------------------------------------------------------


def test_confusion_value_kpis_by_hand() -> None:
    kpis = [
        _kpi("money saved", {"type": "confusion_value", "tp": 270, "fp": -30}, unit="EUR"),
        _kpi("customers kept", {"type": "confusion_value", "tp": 0.3}),
        _kpi("low threshold", {"type": "confusion_value", "threshold": 0.35, "tp": 270, "fp": -30}),
        _kpi("scaled", {"type": "confusion_value", "tp": 1, "tn": 1, "scale": 0.5}),
    ]
    result = kpi_estimates(kpis, Y_TRUE, Y_PRED, PROBA, "classification")
    money = result["money saved"]
    assert money["value"] == 780.0  # 270 * 3 TP - 30 * 1 FP
    assert money["unit"] == "EUR"
    assert "TP=3, FP=1, FN=1, TN=5" in money["how"]
    assert "270*3 TP + -30*1 FP = 780" in money["how"]
    assert result["customers kept"]["value"] == pytest.approx(0.9)
    assert result["low threshold"]["value"] == 1050.0  # 0.4 counts now: 4 TP, 1 FP
    assert "P(1) >= 0.35" in result["low threshold"]["how"]
    assert result["scaled"]["value"] == 4.0  # 0.5 * (3 TP + 5 TN)
    _plain_json(result)


def test_confusion_value_without_probabilities_counts_the_labels() -> None:
    kpi = _kpi("saved", {"type": "confusion_value", "tp": 270, "fp": -30})
    result = kpi_estimates([kpi], Y_TRUE, Y_PRED, None, "classification")
    assert result["saved"]["value"] == 780.0
    assert "predicted label is 1" in result["saved"]["how"]
    explicit = _kpi("saved", {"type": "confusion_value", "threshold": 0.3, "tp": 1})
    result = kpi_estimates([explicit], Y_TRUE, Y_PRED, None, "classification")
    assert result["saved"]["value"] is None
    assert "threshold needs predicted probabilities" in result["saved"]["how"]


def test_metric_kpi_and_scale() -> None:
    kpis = [
        _kpi("recall", {"type": "metric", "metric": "recall"}),
        _kpi("recall %", {"type": "metric", "metric": "recall", "scale": 100}, unit="%"),
    ]
    result = kpi_estimates(kpis, Y_TRUE, Y_PRED, PROBA, "classification")
    assert result["recall"]["value"] == 0.75
    assert result["recall"]["how"] == "recall (0.75) on 10 rows = 0.75"
    assert result["recall %"]["value"] == 75.0


@pytest.mark.parametrize(
    ("direction", "target", "meets"),
    [("increase", 700.0, True), ("increase", 780.0, True), ("increase", 800.0, False),
     ("decrease", 800.0, True), ("decrease", 780.0, True), ("decrease", 700.0, False),
     ("increase", None, None)],
)  # fmt: skip
def test_meets_target_follows_the_direction(
    direction: str, target: float | None, meets: bool | None
) -> None:
    kpi = _kpi("saved", {"type": "confusion_value", "tp": 270, "fp": -30}, direction=direction)
    kpi = kpi.model_copy(update={"target": target})
    result = kpi_estimates([kpi], Y_TRUE, Y_PRED, PROBA, "classification")["saved"]
    assert result["meets_target"] is meets
    assert result["target"] == target and result["direction"] == direction


def test_kpis_that_cannot_be_estimated_say_why() -> None:
    kpis = [
        KPI(name="churn cost", unit="EUR", target=10.0),
        _kpi("saved", {"type": "confusion_value", "tp": 1}),
        _kpi("auc", {"type": "metric", "metric": "roc_auc"}),
        _kpi("mae", {"type": "metric", "metric": "mae"}),
    ]
    yt = np.zeros(4, dtype=int)
    result = kpi_estimates(kpis, yt, yt, np.tile([0.9, 0.1], (4, 1)), "classification")
    assert result["churn cost"] == {
        "value": None,
        "unit": "EUR",
        "target": 10.0,
        "direction": "increase",
        "meets_target": None,
        "how": "not estimated: the KPI has no definition of how to compute it",
    }
    assert result["saved"]["value"] is None  # only one label seen and no classes
    assert "pass classes" in result["auc"]["how"]
    known = kpi_estimates(
        kpis, yt, yt, np.tile([0.9, 0.1], (4, 1)), "classification", classes=[0, 1]
    )
    assert known["saved"]["value"] == 0.0  # no true positives
    assert known["auc"]["value"] is None
    assert known["auc"]["how"] == (
        "not estimated: roc_auc could not be computed: only one class (0) is present in y_true"
    )
    assert result["mae"]["how"] == "not estimated: mae is not a classification metric"
    reg = kpi_estimates(kpis[1:2], np.array([1.0, 2.0]), np.array([1.0, 2.5]), None, "regression")
    assert "needs a binary classification (regression)" in reg["saved"]["how"]
    assert reg["saved"]["value"] is None


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"type": "lift"}, r"KPI 'k': unknown type 'lift'; known types: confusion_value, metric"),
        ({"tp": 1}, r"unknown type None"),
        ({"type": "confusion_value", "tpp": 1}, r"unknown fields \['tpp'\]"),
        ({"type": "confusion_value", "tp": "many"}, r"field 'tp' must be a number"),
        ({"type": "confusion_value", "threshold": 2}, r"threshold must be in \[0, 1\]"),
        ({"type": "metric", "metric": "recal"}, r"unknown metric 'recal'; known: accuracy"),
    ],
)
def test_bad_kpi_definitions_are_invalid_input(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        kpi_estimates([_kpi("k", definition)], Y_TRUE, Y_PRED, PROBA, "classification")


def test_repeated_kpi_names_are_invalid_input() -> None:
    kpi = _kpi("k", {"type": "metric", "metric": "recall"})
    with pytest.raises(InvalidInput, match="repeated: k"):
        kpi_estimates([kpi, kpi], Y_TRUE, Y_PRED, PROBA, "classification")


# --- evaluate_predictions ----------------------------------------------------------------------


def test_evaluate_predictions_whole_result_is_plain_json() -> None:
    frame, yt, yp = _segment_frame()
    proba = np.where(yp[:, None] == 1, [0.2, 0.8], [0.7, 0.3])
    kpis = [_kpi("saved", {"type": "confusion_value", "tp": 270, "fp": -30}, target=9000.0)]
    result = evaluate_predictions(frame, "y", yp, proba, by=["region"], kpis=kpis)
    assert result["task"] == "classification"
    assert result["rows"] == len(frame)
    assert result["metrics"] == classification_metrics(yt, yp, proba, None)[0]
    assert result["segments"]["region"]["south"]["accuracy"] == 0.5
    assert result["kpis"]["saved"]["value"] == 270 * 33 - 30 * 5
    assert result["kpis"]["saved"]["meets_target"] is False
    assert result["details"]["confusion_matrix"]["labels"] == [0, 1]
    _plain_json(result)


def test_evaluate_regression_and_a_single_by_string() -> None:
    frame = pd.DataFrame({"price": [1.0, 2.0, 3.0, 4.0], "shop": ["a", "a", "b", "b"]})
    kpi = _kpi("err", {"type": "metric", "metric": "mae"}, direction="decrease", target=0.5)
    result = evaluate_predictions(
        frame,
        "price",
        [1.0, 2.0, 3.0, 5.0],
        None,
        by="shop",
        kpis=[kpi],
        min_rows=1,
        task="regression",
    )
    assert result["task"] == "regression"
    assert result["metrics"]["mae"] == 0.25
    assert result["segments"]["shop"]["b"]["mae"] == 0.5
    assert result["kpis"]["err"]["meets_target"] is True
    _plain_json(result)


def test_evaluate_string_labels_from_pandas() -> None:
    frame = pd.DataFrame({"label": pd.Series(["cat", "dog", "dog", "cat"], dtype="str")})
    result = evaluate_predictions(frame, "label", np.array(["cat", "dog", "cat", "cat"]), None)
    assert result["task"] == "classification"
    assert result["metrics"]["accuracy"] == 0.75
    assert result["details"]["positive_class"] == "dog"
    _plain_json(result)


def test_evaluate_missing_target_column_lists_the_columns() -> None:
    frame = pd.DataFrame({"a": [1], "b": [0]})
    with pytest.raises(
        InvalidInput, match=r"the target 'y' is not a column of the data; columns: a, b"
    ):
        evaluate_predictions(frame, "y", [1], None)


def test_evaluate_rows_without_target_are_counted() -> None:
    frame = pd.DataFrame({"y": [1.0, np.nan, 0.0, np.nan]})
    with pytest.raises(InvalidInput, match=r"2 of 4 rows have no 'y'"):
        evaluate_predictions(frame, "y", [1, 1, 0, 0], None)


def test_evaluate_bad_by_unknown_kpi_and_wrong_lengths() -> None:
    frame = pd.DataFrame({"y": [1, 0], "x": [1, 2]})
    with pytest.raises(InvalidInput, match=r"cannot segment by 'z'.*columns: y, x"):
        evaluate_predictions(frame, "y", [1, 0], None, by=["z"])
    with pytest.raises(InvalidInput, match="unknown type 'roi'"):
        evaluate_predictions(frame, "y", [1, 0], None, kpis=[_kpi("r", {"type": "roi"})])
    with pytest.raises(InvalidInput, match="y_pred has 3 rows, y_true 2"):
        evaluate_predictions(frame, "y", [1, 0, 1], None)
    with pytest.raises(InvalidInput, match="2 columns for 3 labels"):
        evaluate_predictions(frame, "y", [1, 0], [[0.5, 0.5]] * 2, classes=[0, 1, 2])
    with pytest.raises(InvalidInput, match=r"probabilities in \[0, 1\]"):
        evaluate_predictions(frame, "y", [1, 0], [[-1.0, 2.0]] * 2)
    with pytest.raises(InvalidInput, match="no rows to evaluate"):
        evaluate_predictions(frame.iloc[:0], "y", [], None)
    with pytest.raises(InvalidInput, match="labels mix kinds"):
        evaluate_predictions(frame, "y", ["yes", "no"], None)
    with pytest.raises(InvalidInput, match="y_pred has 1 missing values"):
        evaluate_predictions(frame, "y", [1.0, np.nan], None, task="classification")


def test_a_fitted_sklearn_model_with_its_classes_array() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 2))
    y = np.where(x[:, 0] + 0.5 * rng.normal(size=120) > 0, "churn", "stay")
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": y})
    model = LogisticRegression().fit(x, y)
    proba = model.predict_proba(x)
    result = evaluate_predictions(frame, "y", model.predict(x), proba, classes=model.classes_)
    assert result["details"]["positive_class"] == "stay"  # classes_[1]
    assert result["metrics"]["roc_auc"] == skm.roc_auc_score(y == "stay", proba[:, 1])
    assert result["metrics"]["accuracy"] == model.score(x, y)
    _plain_json(result)


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=60))
def test_accuracy_is_the_confusion_trace_over_rows(pairs: list[tuple[str, str]]) -> None:
    yt = np.array([t for t, _ in pairs])
    yp = np.array([p for _, p in pairs])
    metrics, details = classification_metrics(yt, yp, None, None)
    matrix = np.array(details["confusion_matrix"]["matrix"])
    assert matrix.sum() == len(pairs) == metrics["rows"]
    assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / len(pairs))
    assert all(np.isfinite(v) for v in metrics.values())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1, allow_nan=False)), min_size=1, max_size=60),
    st.floats(0, 1, allow_nan=False),
)
def test_binary_results_are_finite_and_kpi_counts_add_up(
    rows: list[tuple[bool, float]], threshold: float
) -> None:
    yt = np.array([int(t) for t, _ in rows])
    p1 = np.array([p for _, p in rows])
    yp = (p1 >= 0.5).astype(int)
    kpi = _kpi("rows", {"type": "confusion_value", "threshold": threshold, "tp": 1, "fp": 1,
                        "fn": 1, "tn": 1})  # fmt: skip
    metrics, details = classification_metrics(yt, yp, p1, [0, 1])
    assert all(np.isfinite(v) for v in metrics.values())
    assert set(metrics) | set(details["skipped"]) >= {"roc_auc", "log_loss", "brier"}
    result = kpi_estimates([kpi], yt, yp, p1, "classification", classes=[0, 1])["rows"]
    assert result["value"] == len(rows)
