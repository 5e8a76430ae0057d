"""Evaluation of predictions: the metrics (:mod:`relayml.models.metrics`) and business KPIs.

Pure functions over arrays; results are JSON-able and never NaN.

A KPI is estimated from the predictions when its ``definition`` says how:

``{"type": "confusion_value", "threshold": 0.5, "tp": 300.0, "fp": -20.0, "fn": 0.0, "tn": 0.0,
"scale": 1.0}``
    Binary only: value = scale * (tp*TP + fp*FP + fn*FN + tn*TN); TP.. count rows, a row being
    predicted positive when P(positive class) >= threshold (default 0.5; without probabilities
    and threshold, the predicted label). Missing cells are 0, scale is 1. E.g. customers kept:
    ``{"type": "confusion_value", "tp": 0.3}``; money saved: ``{..., "tp": 270, "fp": -30}``.
``{"type": "metric", "metric": "recall", "scale": 1.0}``
    value = scale * that metric of the whole evaluation (scale defaults to 1).

A KPI without a definition, or one unfit for the task, gets ``value: None`` and ``how`` saying
why; an unknown type or field is ``InvalidInput``. ``meets_target``: value >= target when the
direction is "increase", value <= target when "decrease" (None without a target or value).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from relayml.domain.entities import KPI
from relayml.errors import InvalidInput
from relayml.models.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    Array,
    Overall,
    Task,
    class_list,
    detect_task,
    label_sets,
    paired_rows,
    proba_matrix,
    require_column,
    segment_metrics,
    task_metrics,
)

__all__ = ["KPI_TYPES", "evaluate_predictions", "kpi_estimates"]

KPI_TYPES = ("confusion_value", "metric")
_KPI_FIELDS = {
    "confusion_value": {"type", "threshold", "tp", "fp", "fn", "tn", "scale", "decision"},
    "metric": {"type", "metric", "scale"},
}


def _number(kpi: KPI, key: str, default: float) -> float:
    value = kpi.definition.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InvalidInput(f"KPI {kpi.name!r}: field {key!r} must be a number, not {value!r}.")
    return float(value)


def _confusion_value(
    kpi: KPI, yt: Array, yp: Array, proba: Array | None, task: Task, classes: list[Any] | None
) -> tuple[float | None, str]:
    from sklearn import metrics as skm  # loaded by what computes a confusion matrix

    weights = {cell: _number(kpi, cell, 0.0) for cell in ("tp", "fp", "fn", "tn")}
    scale, threshold = _number(kpi, "scale", 1.0), _number(kpi, "threshold", 0.5)
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"KPI {kpi.name!r}: threshold must be in [0, 1], not {threshold:g}.")
    known = label_sets(yt, yp, classes)[0] if task == "classification" else []
    if len(known) != 2:
        return None, f"not estimated: confusion_value needs a binary classification ({task})"
    pos = known[1]
    if proba is not None and proba.shape[1] == 2:
        predicted, source = proba[:, 1] >= threshold, f"P({pos!r}) >= {threshold:g}"
    elif "threshold" in kpi.definition:
        return None, "not estimated: a threshold needs predicted probabilities of the two classes"
    else:
        predicted, source = yp == pos, f"the predicted label is {pos!r}"
    tn, fp, fn, tp = skm.confusion_matrix(yt == pos, predicted, labels=[False, True]).ravel()
    counts = {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}
    value = scale * sum(weights[c] * n for c, n in counts.items())
    terms = " + ".join(f"{w:g}*{counts[c]} {c.upper()}" for c, w in weights.items() if w) or "0"
    terms = terms if scale == 1.0 else f"{scale:g}*({terms})"
    tally = ", ".join(f"{c.upper()}={n}" for c, n in counts.items())
    return value, f"{terms} = {value:g}, a row counting as positive when {source} ({tally})"


def _metric_value(kpi: KPI, task: Task, overall: Overall) -> tuple[float | None, str]:
    name, scale = kpi.definition.get("metric"), _number(kpi, "scale", 1.0)
    known = sorted(set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS))
    if name not in known:
        raise InvalidInput(f"KPI {kpi.name!r}: unknown metric {name!r}; known: {', '.join(known)}.")
    metrics, skipped = overall
    if name in metrics:
        value, scaled = scale * metrics[name], "" if scale == 1.0 else f"{scale:g}*"
        return value, f"{scaled}{name} ({metrics[name]:.6g}) on {metrics['rows']} rows = {value:g}"
    if name in skipped:
        return None, f"not estimated: {name} could not be computed: {skipped[name]}"
    return None, f"not estimated: {name} is not a {task} metric"


def kpi_estimates(
    kpis: Sequence[KPI],
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_proba: ArrayLike | None,
    task: Task,
    *,
    classes: Sequence[Any] | None = None,
    overall: Overall | None = None,
) -> dict[str, dict[str, Any]]:
    """Estimate each KPI that has a definition; the others get value None and the reason."""
    yt, yp, classes = *paired_rows(y_true, y_pred), class_list(classes)
    names = [k.name for k in kpis]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise InvalidInput(f"KPI names must be unique; repeated: {', '.join(twice)}.")
    proba = proba_matrix(y_proba, len(yt)) if task == "classification" else None
    result: dict[str, dict[str, Any]] = {}
    for kpi in kpis:
        kind = kpi.definition.get("type")
        value: float | None
        if not kpi.definition:
            value, how = None, "not estimated: the KPI has no definition of how to compute it"
        elif kind not in _KPI_FIELDS:
            known = ", ".join(KPI_TYPES)
            raise InvalidInput(f"KPI {kpi.name!r}: unknown type {kind!r}; known types: {known}.")
        elif unknown := sorted(set(kpi.definition) - _KPI_FIELDS[kind]):
            takes = ", ".join(sorted(_KPI_FIELDS[kind]))
            raise InvalidInput(f"KPI {kpi.name!r}: unknown fields {unknown}; {kind} takes {takes}.")
        elif kind == "confusion_value" and "decision" in kpi.definition:
            value, how = None, "not estimated here: it counts the served model's decisions "
            how += "(see `relay monitor kpis`)"
        elif kind == "confusion_value":
            value, how = _confusion_value(kpi, yt, yp, proba, task, classes)
        else:
            if overall is None:
                metrics, details = task_metrics(yt, yp, y_proba, task, classes)
                overall = metrics, details["skipped"]
            value, how = _metric_value(kpi, task, overall)
        meets = None
        if value is not None and kpi.target is not None:
            meets = value >= kpi.target if kpi.direction == "increase" else value <= kpi.target
        result[kpi.name] = {"value": value, "unit": kpi.unit, "target": kpi.target}
        result[kpi.name] |= {"direction": kpi.direction, "meets_target": meets, "how": how}
    return result


def evaluate_predictions(
    frame: pd.DataFrame,
    target: str,
    y_pred: ArrayLike,
    y_proba: ArrayLike | None,
    *,
    classes: Sequence[Any] | None = None,
    has_proba: bool = False,
    by: Sequence[str] = (),
    kpis: Sequence[KPI] = (),
    task: Task | None = None,
    min_rows: int = 20,
) -> dict[str, Any]:
    """Evaluate predictions against a frame's target: metrics, segments, KPIs and details."""
    require_column(frame, target, "the target")
    if missing := int(frame[target].isna().sum()):
        raise InvalidInput(f"{missing} of {len(frame)} rows have no {target!r}; drop or fill them.")
    yt, yp = paired_rows(frame[target].to_numpy(), y_pred)
    by = (by,) if isinstance(by, str) else tuple(by)
    chosen = task or detect_task(yt, yp, has_proba or y_proba is not None)
    proba = y_proba if chosen == "classification" else None
    metrics, details = task_metrics(yt, yp, proba, chosen, classes)
    segments = {c: segment_metrics(frame, c, yt, yp, proba, chosen, classes, min_rows) for c in by}
    overall = metrics, details["skipped"]
    estimates = kpi_estimates(kpis, yt, yp, proba, chosen, classes=classes, overall=overall)
    result = {"task": chosen, "target": target, "rows": len(yt), "metrics": metrics}
    return result | {"segments": segments, "kpis": estimates, "details": details}
