"""The project's KPIs over the predictions of a window whose outcomes arrived, against targets.

Each KPI's `definition` says how it is computed (see relayml.models.evaluation): a value per
confusion-matrix cell (customers kept, money saved) or a scaled metric. Only rows with an outcome
count; the result says how many.

With a decision table, a `confusion_value` KPI may count a row as positive when the business acted
on it: ``{"type": "confusion_value", "decision": "call", "tp": 270, "fp": -30}`` counts rows
decided "call" (or any of a list of actions) as predicted positive, whatever the score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.entities import KPI
from relayml.domain.models import Signature
from relayml.domain.ports import Backend
from relayml.models.evaluation import kpi_estimates
from relayml.monitoring.windows import WindowQuery, live_windows
from relayml.predictions import PredictionLogs, canonical_labels

__all__ = ["KpiWindow", "kpis_by_window", "kpis_of_rows", "progress_text"]


@dataclass
class KpiWindow:
    """The KPIs of one window (and variant)."""

    start: datetime
    end: datetime
    variant: str | None
    predictions: int
    outcomes: int
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)


def _missing(kpi: KPI, why: str) -> dict[str, Any]:
    return {"value": None, "unit": kpi.unit, "target": kpi.target, "how": why}


def _by_decision(kpi: KPI, known: pd.DataFrame, positive: str) -> dict[str, Any]:
    """A confusion_value KPI whose positive rows are those the decision table acted on."""
    wanted = kpi.definition["decision"]
    actions = {wanted} if isinstance(wanted, str) else set(wanted)
    if "decision" not in known.columns:
        return _missing(kpi, "not estimated: no decisions were logged (apply a decision table)")
    acted = known["decision"].isin(actions).to_numpy()
    actual = (known["outcome"] == positive).to_numpy()
    counts = {
        "tp": int((acted & actual).sum()),
        "fp": int((acted & ~actual).sum()),
        "fn": int((~acted & actual).sum()),
        "tn": int((~acted & ~actual).sum()),
    }
    weights = {c: float(kpi.definition.get(c, 0.0)) for c in counts}
    value = float(kpi.definition.get("scale", 1.0)) * sum(weights[c] * n for c, n in counts.items())
    meets = None
    if kpi.target is not None:
        meets = value >= kpi.target if kpi.direction == "increase" else value <= kpi.target
    tally = ", ".join(f"{c.upper()}={n}" for c, n in counts.items())
    how = f"rows decided {' or '.join(sorted(actions))} count as positive ({tally})"
    return {"value": value, "unit": kpi.unit, "target": kpi.target, "direction": kpi.direction,
            "meets_target": meets, "how": how}  # fmt: skip


def kpis_of_rows(kpis: list[KPI], rows: pd.DataFrame, signature: Signature) -> dict[str, Any]:
    """Each KPI estimated on the rows whose outcome arrived (value None and why otherwise)."""
    known = rows[rows["outcome"].notna()]
    if not kpis:
        return {}
    by_decision = [k for k in kpis if "decision" in k.definition]
    if by_decision:
        classes = canonical_labels(list(signature.classes or []))
        rest = [k for k in kpis if "decision" not in k.definition]
        result = kpis_of_rows(rest, rows, signature) if rest else {}
        for kpi in by_decision:
            if len(classes) != 2 or known.empty:
                result[kpi.name] = _missing(kpi, "not estimated: needs outcomes of a binary model")
            else:
                result[kpi.name] = _by_decision(kpi, known, str(classes[1]))
        return {k.name: result[k.name] for k in kpis}
    if known.empty:
        return {k.name: _missing(k, "no outcomes yet") for k in kpis}
    if signature.task == "classification":
        classes = canonical_labels(list(signature.classes or []))
        y_true = np.array(known["outcome"].tolist(), dtype=object)
        y_pred = np.array(canonical_labels(known["prediction"].to_numpy()), dtype=object)
        proba = None
        if "probabilities" in known.columns and known["probabilities"].notna().all():
            proba = np.array(known["probabilities"].tolist(), dtype=np.float64)
        return kpi_estimates(kpis, y_true, y_pred, proba, "classification", classes=classes)
    y_true = known["outcome_value"].to_numpy(dtype=np.float64)
    y_pred = known["prediction"].astype(np.float64).to_numpy()
    return kpi_estimates(kpis, y_true, y_pred, None, "regression")


def plain_number(value: float) -> str:
    """A figure for people: '13,950', '0.8235' (4 significant digits, whole from 1,000 on),
    never in scientific notation."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def progress_text(name: str, figure: dict[str, Any]) -> str:
    """'customers_retained: 41 customers of the 50 target (82%)', or why there is no value."""
    value, target, unit = figure.get("value"), figure.get("target"), figure.get("unit") or ""
    if value is None:
        how = str(figure.get("how") or "not estimated")
        return f"{name}: {how if how.startswith('not estimated') else 'not estimated: ' + how}"
    shown = plain_number(value) + (unit if unit == "%" else (" " + unit if unit else ""))
    if target is None:
        return f"{name}: {shown}"
    share = f" ({value / target:.0%})" if target else ""
    met = "met" if figure.get("meets_target") else "not met"
    return f"{name}: {shown} of the {plain_number(target)} target{share}, {met}"


def kpis_by_window(
    backend: Backend, logs: PredictionLogs, query: WindowQuery, frame: pd.DataFrame | None = None
) -> list[KpiWindow]:
    """The project's KPIs per window (and variant), from predictions and their outcomes (or the
    live rows in `frame`, read once by the caller)."""
    size = query.size
    frame, parts = live_windows(backend, logs, query, frame)
    kpis = list(backend.get_project(query.project).kpis)
    ref = f"{query.model}/{int(frame['version'].iloc[-1])}"
    version = backend.get_model_version(query.project, ref)
    results = []
    for start, variant, rows in parts:
        outcomes = int(rows["outcome"].notna().sum())
        figures = kpis_of_rows(kpis, rows, version.signature)
        results.append(KpiWindow(start, start + size, variant, len(rows), outcomes, figures))
    return results
