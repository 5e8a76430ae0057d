"""Metrics of predictions: classification and regression, overall and per segment.

Pure functions over arrays; results are JSON-able and never NaN: a metric that cannot be
computed is left out and ``details["skipped"]`` says why. The evaluation that adds business KPIs
to these is :mod:`relayml.models.evaluation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from relayml.errors import InvalidInput

# fmt: off
__all__ = [
    "CLASSIFICATION_METRICS", "REGRESSION_METRICS", "Array", "Overall", "Task", "class_list",
    "classification_metrics", "detect_task", "label_sets", "paired_rows", "proba_matrix",
    "regression_metrics", "require_column", "segment_metrics", "task_metrics",
]
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
                          "brier", "positive_rate", "rows")
_QUANTILES = {"min": 0.0, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95,
              "max": 1.0}
# fmt: on
REGRESSION_METRICS = ("mae", "rmse", "r2", "mape", "rows")
MAX_CLASSES = 20  # integer-valued targets with at most this many values count as classes
CALIBRATION_BINS = 10
MISSING_SEGMENT = "(missing)"

Task = Literal["classification", "regression"]
Array = NDArray[Any]
Overall = tuple[dict[str, float], dict[str, str]]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def require_column(frame: pd.DataFrame, column: str, what: str) -> None:
    if column not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise InvalidInput(f"{what} {column!r} is not a column of the data; columns: {columns}.")


def paired_rows(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[Array, Array]:
    """Return both as 1-D arrays of equal, non-zero length without missing values."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    for name, arr in (("y_true", yt), ("y_pred", yp)):
        if arr.ndim != 1:
            raise InvalidInput(f"{name} must hold one value per row (1-D), not shape {arr.shape}.")
        if missing := int(pd.isna(arr).sum()):
            raise InvalidInput(f"{name} has {missing} missing values; drop or fill those rows.")
    if len(yp) != len(yt):
        raise InvalidInput(f"y_pred has {len(yp)} rows, y_true {len(yt)}; pass one per row.")
    if len(yt) == 0:
        raise InvalidInput("there are no rows to evaluate; pass at least one row.")
    return yt, yp


def proba_matrix(y_proba: ArrayLike | None, rows: int) -> Array | None:
    """Return probabilities as float64 (rows, classes); 1-D means P(positive) of a binary task."""
    if y_proba is None:
        return None
    proba = np.asarray(y_proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2 or proba.shape[0] != rows:
        raise InvalidInput(f"y_proba has shape {proba.shape}; pass one row per row ({rows}).")
    if not np.isfinite(proba).all() or proba.min() < 0.0 or proba.max() > 1.0:
        raise InvalidInput("y_proba must hold probabilities in [0, 1] (predict_proba's output).")
    return proba


def _unique(*arrays: Array) -> list[Any]:
    try:  # hash first (fast on many rows), then sort the few distinct values
        return sorted({_plain(v) for a in arrays for v in pd.unique(a)})
    except TypeError as exc:
        raise InvalidInput("labels mix kinds (numbers and text); pass labels of one kind.") from exc


def class_list(classes: Sequence[Any] | None) -> list[Any] | None:
    """Return the classes as a list of plain values, None when not given (e.g. an empty array)."""
    return None if classes is None or len(classes) == 0 else [_plain(c) for c in classes]


def label_sets(yt: Array, yp: Array, classes: list[Any] | None) -> tuple[list[Any], list[Any]]:
    """Return the model's labels (classes, or those seen) and all labels (plus unknown ones)."""
    seen = _unique(yt, yp, np.asarray(classes or [], dtype=object))
    if not classes:
        return seen, seen
    known = classes
    if len(set(known)) != len(known):
        raise InvalidInput(f"classes lists a label twice: {known}; pass each class once.")
    return known, known + [v for v in seen if v not in known]


def detect_task(y_true: ArrayLike, y_pred: ArrayLike, has_proba: bool) -> Task:
    """Guess whether predictions are of a classification or a regression."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if has_proba or yt.dtype.kind not in "iuf" or yp.dtype.kind not in "iuf":
        return "classification"
    if any(a.dtype.kind == "f" and not np.array_equal(a, np.round(a)) for a in (yt, yp)):
        return "regression"
    return "classification" if len(np.unique(yt)) <= MAX_CLASSES else "regression"


def _finite(metrics: dict[str, float], skipped: dict[str, str]) -> dict[str, float]:
    skipped |= {k: f"not finite ({v})" for k, v in metrics.items() if not np.isfinite(v)}
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def _calibration(positive: Array, score: Array) -> dict[str, list[Any]]:
    bins = np.minimum((score * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    count = np.bincount(bins, minlength=CALIBRATION_BINS)
    sum_p = np.bincount(bins, weights=score, minlength=CALIBRATION_BINS)
    sum_y = np.bincount(bins, weights=positive, minlength=CALIBRATION_BINS)
    return {
        "edges": [i / CALIBRATION_BINS for i in range(CALIBRATION_BINS + 1)],
        "mean_predicted": [float(sum_p[i] / c) if c else None for i, c in enumerate(count)],
        "fraction_positive": [float(sum_y[i] / c) if c else None for i, c in enumerate(count)],
        "count": count.tolist(),
    }


def _usable_proba(proba: Array | None, known: list[Any], labels: list[Any], given: bool) -> Any:
    """Return row-normalised probabilities, or None and why they cannot be used."""
    if proba is None:
        return None, "no predicted probabilities were given"
    if proba.shape[1] != len(known):
        why = f"y_proba has {proba.shape[1]} columns for {len(known)} labels ({known})"
        if given:
            raise InvalidInput(f"{why}; pass one column per class, in the order of classes.")
        return None, f"{why}; pass classes (the model's classes_) to match columns to labels"
    if len(labels) > len(known):
        return None, f"y_true has labels the model gives no probability for: {labels[len(known) :]}"
    sums = proba.sum(axis=1, keepdims=True)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=1e-6):
        return None, "the rows of y_proba do not sum to 1"
    return proba / sums, ""


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, y_proba: ArrayLike | None, classes: Sequence[Any] | None
) -> tuple[dict[str, float], dict[str, Any]]:
    """Compute classification metrics and details (confusion matrix, calibration curve)."""
    from sklearn import metrics as skm  # loaded by what computes metrics, not by importers

    yt, yp, classes = *paired_rows(y_true, y_pred), class_list(classes)
    known, labels = label_sets(yt, yp, classes)
    k, binary = len(known), len(known) <= 2
    ct, cp = (pd.Index(labels).get_indexer(a) for a in (yt, yp))  # labels[i] -> code i
    proba, why_not = _usable_proba(proba_matrix(y_proba, len(yt)), known, labels, bool(classes))
    names = ("roc_auc", "log_loss", "brier") if binary else ("roc_auc", "log_loss")
    skipped: dict[str, str] = {} if proba is not None else dict.fromkeys(names, why_not)
    metrics: dict[str, float] = {"accuracy": float(skm.accuracy_score(ct, cp))}
    details: dict[str, Any] = {"labels": labels}
    if binary:
        details["positive_class"] = known[-1]
        t, p, average = (ct == k - 1).astype(np.int8), (cp == k - 1).astype(np.int8), "binary"
        metrics["positive_rate"] = float(p.mean())
    else:
        t, p, average = ct, cp, "macro"
        skipped["positive_rate"] = "multiclass: there is no single positive class"
        skipped["brier"] = "computed for binary classification only"
    prf = skm.precision_recall_fscore_support(t, p, average=average, zero_division=0)[:3]
    metrics |= {name: float(v) for name, v in zip(("precision", "recall", "f1"), prf, strict=True)}
    if binary and proba is not None:
        score = proba[:, -1]
        if t.min() == t.max():
            skipped["roc_auc"] = f"only one class ({_plain(yt[0])!r}) is present in y_true"
        else:
            metrics["roc_auc"] = float(skm.roc_auc_score(t, score))
        metrics["log_loss"] = float(skm.log_loss(t, proba, labels=[0, 1]))
        metrics["brier"] = float(skm.brier_score_loss(t, score, pos_label=1))
        details["calibration_curve"] = _calibration(t, score)
    elif proba is not None:  # codes 0..k-1 follow the columns of proba
        absent = [known[i] for i in np.flatnonzero(np.bincount(ct, minlength=k) == 0)]
        if absent:
            skipped["roc_auc"] = f"classes absent from y_true: {absent}"
        else:
            auc = skm.roc_auc_score(ct, proba, multi_class="ovr", labels=np.arange(k))
            metrics["roc_auc"] = float(auc)
        metrics["log_loss"] = float(skm.log_loss(ct, proba, labels=np.arange(k)))
    metrics["rows"] = len(yt)
    one = len(labels) == 1  # sklearn warns on a 1x1 matrix
    matrix = [[len(yt)]] if one else skm.confusion_matrix(ct, cp, labels=np.arange(len(labels)))
    details |= {"confusion_matrix": {"labels": labels, "matrix": np.asarray(matrix).tolist()}}
    details["skipped"] = skipped
    return _finite(metrics, skipped), details


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[dict[str, float], Any]:
    """Compute regression metrics and details (residual quantiles)."""
    from sklearn import metrics as skm

    yt, yp = paired_rows(y_true, y_pred)
    try:
        yt, yp = yt.astype(np.float64), yp.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("a regression needs numbers in y_true and y_pred.") from exc
    if not (np.isfinite(yt).all() and np.isfinite(yp).all()):
        raise InvalidInput("y_true or y_pred holds infinite values; fix those rows.")
    skipped: dict[str, str] = {}
    metrics = {"mae": skm.mean_absolute_error(yt, yp), "rmse": skm.root_mean_squared_error(yt, yp)}
    if len(yt) < 2 or yt.min() == yt.max():
        skipped["r2"] = "y_true is constant (or a single row), so R² is undefined"
    else:
        metrics["r2"] = skm.r2_score(yt, yp)
    if zeros := int(np.count_nonzero(yt == 0)):
        skipped["mape"] = f"y_true has {zeros} zeros and MAPE divides by y_true"
    else:
        metrics["mape"] = skm.mean_absolute_percentage_error(yt, yp)
    result: dict[str, float] = {k: float(v) for k, v in metrics.items()} | {"rows": len(yt)}
    residual = yt - yp
    quantiles = np.quantile(residual, list(_QUANTILES.values())).tolist()
    residuals = {"definition": "y_true - y_pred", "mean": float(residual.mean())}
    residuals["quantiles"] = dict(zip(_QUANTILES, quantiles, strict=True))
    return _finite(result, skipped), {"residuals": residuals, "skipped": skipped}


def task_metrics(
    yt: Array, yp: Array, proba: ArrayLike | None, task: Task, classes: Sequence[Any] | None
) -> tuple[dict[str, float], dict[str, Any]]:
    if task == "classification":
        return classification_metrics(yt, yp, proba, classes)
    return regression_metrics(yt, yp)


def segment_metrics(
    frame: pd.DataFrame,
    by: str,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_proba: ArrayLike | None,
    task: Task,
    classes: Sequence[Any] | None,
    min_rows: int = 20,
) -> dict[str, dict[str, float]]:
    """Compute the metrics per value of column `by`; segments under min_rows get only rows."""
    require_column(frame, by, "cannot segment by")
    yt, yp, classes = *paired_rows(y_true, y_pred), class_list(classes)
    if len(yt) != len(frame):
        raise InvalidInput(f"the data has {len(frame)} rows, y_true {len(yt)}; pass one per row.")
    proba = proba_matrix(y_proba, len(yt)) if task == "classification" else None
    if task == "classification" and not classes:  # one label set for all segments
        classes = label_sets(yt, yp, None)[0]
        if proba is not None and proba.shape[1] != len(classes):
            proba = None  # the overall metrics say why
    column = frame[by]
    keys = column.astype(str).where(column.notna(), MISSING_SEGMENT).to_numpy(dtype=object)
    groups = pd.Series(np.arange(len(keys))).groupby(keys, sort=True).indices
    result: dict[str, dict[str, float]] = {}
    for key, idx in groups.items():
        if len(idx) < min_rows:
            result[str(key)] = {"rows": len(idx)}
        else:
            part = None if proba is None else proba[idx]
            result[str(key)] = task_metrics(yt[idx], yp[idx], part, task, classes)[0]
    return result
