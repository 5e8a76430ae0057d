"""A/B results of a deployment: traffic, latency, metrics and KPIs per variant, and a verdict.

Read from the prediction log and the outcome log (joined by prediction id) since the
deployment's current revision began. Shadows answer the same requests under the same
prediction ids, so they are compared on exactly the live variant's outcomes. The control is
the first live variant; every other variant is a challenger, compared with Bonferroni's alpha.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from relayml.domain.abtest import (
    Comparison,
    bonferroni,
    compare_means,
    compare_proportions,
    summarize,
)
from relayml.domain.entities import KPI
from relayml.domain.ports import Backend
from relayml.domain.serving import Deployment
from relayml.predictions import PredictionLogs, canonical_labels
from relayml.predictions.layout import deployment_key

__all__ = ["ABReport", "VariantResult", "ab_results"]


@dataclass
class VariantResult:
    """What one variant did: traffic, latency, and its metrics once outcomes arrived."""

    name: str
    version: int
    mode: str
    predictions: int
    share: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    outcomes: int
    metrics: dict[str, float] = field(default_factory=dict)
    kpis: dict[str, float] = field(default_factory=dict)


@dataclass
class ABReport:
    """Every variant's results, the comparisons with the control, and one verdict."""

    model: str
    environment: str
    revision: int | None
    since: datetime | None
    task: str
    variants: list[VariantResult]
    comparisons: list[Comparison]
    verdict: str
    winner: str | None
    metric: str

    def to_json(self) -> dict[str, Any]:
        """The shape of `relay deploy results --json` (documented in docs/serving.md)."""
        return {
            "model": self.model,
            "environment": self.environment,
            "revision": self.revision,
            "task": self.task,
            "metric": self.metric,
            "variants": [dict(v.__dict__) for v in self.variants],
            "comparisons": [dict(c.__dict__) for c in self.comparisons],
            "verdict": self.verdict,
            "winner": self.winner,
        }


def _cells(kpi: KPI, rows: pd.DataFrame, positive: str) -> np.ndarray | None:
    """Per-row value of a confusion_value KPI (its total is their sum), or None."""
    if kpi.definition.get("type") != "confusion_value":
        return None
    weights = {c: float(kpi.definition.get(c, 0.0)) for c in ("tp", "fp", "fn", "tn")}
    scale, threshold = float(kpi.definition.get("scale", 1.0)), kpi.definition.get("threshold")
    actual = rows["outcome"].to_numpy() == positive
    if threshold is not None and "score" in rows:
        predicted = rows["score"].to_numpy() >= float(threshold)
    else:
        predicted = np.array(canonical_labels(rows["prediction"].to_numpy())) == positive
    cell = np.where(
        predicted,
        np.where(actual, weights["tp"], weights["fp"]),
        np.where(actual, weights["fn"], weights["tn"]),
    )
    return scale * cell


def _per_row(
    task: str, rows: pd.DataFrame, kpis: list[KPI], positive: str | None
) -> dict[str, np.ndarray]:
    """Per-row figures whose mean is a metric: correct (classification) or errors (regression)."""
    figures: dict[str, np.ndarray] = {}
    if task == "classification":
        predicted = np.array(canonical_labels(rows["prediction"].to_numpy()), dtype=object)
        figures["accuracy"] = (predicted == rows["outcome"].to_numpy()).astype(np.float64)
        if positive is not None:
            for kpi in kpis:
                values = _cells(kpi, rows, positive)
                if values is not None:
                    figures[kpi.name] = values
    else:
        error = rows["prediction"].astype(np.float64).to_numpy() - rows["outcome_value"].to_numpy()
        figures["mae"] = np.abs(error)
        figures["mse"] = error**2
    return figures


def ab_results(
    backend: Backend,
    logs: PredictionLogs,
    project: str,
    model: str,
    environment: str,
    *,
    since: datetime | None = None,
    metric: str | None = None,
    alpha: float = 0.05,
) -> ABReport:
    """Compare the variants of a deployment on what they answered and the outcomes so far."""
    deployment: Deployment | None = None
    revision = None
    try:
        deployment = backend.get_deployment(project, model, environment)
        revision = deployment.revision
        since = since or deployment.updated_at
    except Exception:
        deployment = None
    frame = logs.joined(project, deployment_key(model, environment), since)
    holder = backend.get_model(project, model).aliases.get(environment) if deployment else None
    order = _variant_order(deployment, frame, holder)
    task = "classification"
    positive: str | None = None
    if order:
        version = backend.get_model_version(project, f"{model}/{order[0][1]}")
        task = version.signature.task if version.signature.task != "other" else "regression"
        classes = version.signature.classes or []
        positive = canonical_labels([classes[1]])[0] if len(classes) == 2 else None
    kpis = list(backend.get_project(project).kpis)
    chosen = metric or ("accuracy" if task == "classification" else "mae")
    live_total = int((frame["mode"] == "live").sum()) if not frame.empty else 0
    results: list[VariantResult] = []
    per_row: dict[str, dict[str, np.ndarray]] = {}
    if frame.empty:
        frame = pd.DataFrame(
            {c: [] for c in ("variant", "mode", "latency_ms", "outcome", "prediction")}
        )
    for name, version_number, mode in order:
        rows = frame[(frame["variant"] == name) & (frame["mode"] == mode)]
        latency = rows["latency_ms"].to_numpy()
        known = rows[rows["outcome"].notna()]
        figures = _per_row(task, known, kpis, positive) if len(known) else {}
        per_row[name] = figures
        result = VariantResult(
            name=name,
            version=version_number,
            mode=mode,
            predictions=len(rows),
            share=(len(rows) / live_total if live_total and mode == "live" else 0.0),
            latency_p50_ms=float(np.percentile(latency, 50)) if len(latency) else None,
            latency_p99_ms=float(np.percentile(latency, 99)) if len(latency) else None,
            outcomes=len(known),
        )
        for key, values in figures.items():
            target = result.metrics if key in ("accuracy", "mae", "mse") else result.kpis
            target[key] = float(values.mean() if key != "mse" else np.sqrt(values.mean()))
        if "mse" in result.metrics:
            result.metrics["rmse"] = result.metrics.pop("mse")
        results.append(result)
    comparisons = _compare(results, per_row, chosen, kpis, alpha)
    winner = next((c.winner for c in comparisons if c.metric == chosen and c.significant), None)
    verdict = summarize(comparisons) if comparisons else _why_nothing(results)
    return ABReport(
        model, environment, revision, since, task, results, comparisons, verdict, winner, chosen
    )


def _variant_order(
    deployment: Deployment | None, frame: pd.DataFrame, holder: int | None
) -> list[tuple[str, int, str]]:
    """(name, version, mode) of each variant: the deployment's order (the variant following
    the alias is the version that holds the environment), then any others logged."""
    order: list[tuple[str, int, str]] = []
    if deployment is not None:
        for variant in deployment.variants:
            version = variant.version if variant.version is not None else holder
            if version is not None:
                order.append((f"v{version}", version, variant.mode))
    if not frame.empty:
        logged = frame[["variant", "version", "mode"]].drop_duplicates()
        for name, version, mode in logged.itertuples(index=False):
            if not any(o[0] == name and o[2] == mode for o in order):
                order.append((str(name), int(version), str(mode)))
    live_first = [o for o in order if o[2] == "live"] + [o for o in order if o[2] != "live"]
    return live_first


def _compare(
    results: list[VariantResult],
    per_row: dict[str, dict[str, np.ndarray]],
    chosen: str,
    kpis: list[KPI],
    alpha: float,
) -> list[Comparison]:
    if len(results) < 2:
        return []
    control, challengers = results[0], results[1:]
    level = bonferroni(alpha, len(challengers))
    directions = {k.name: k.direction == "increase" for k in kpis}
    comparisons = []
    for challenger in challengers:
        a, b = per_row.get(control.name, {}), per_row.get(challenger.name, {})
        names = [chosen, *sorted((set(a) | set(b)) - {chosen, "mse"})]
        for name in names:
            values_a = a.get(name, np.array([]))
            values_b = b.get(name, np.array([]))
            if name == "accuracy":
                comparisons.append(
                    compare_proportions(
                        name,
                        control.name,
                        challenger.name,
                        int(values_a.sum()),
                        len(values_a),
                        int(values_b.sum()),
                        len(values_b),
                        alpha=level,
                    )
                )
            elif name in ("mae",) or name in directions:
                comparisons.append(
                    compare_means(
                        name,
                        control.name,
                        challenger.name,
                        values_a,
                        values_b,
                        alpha=level,
                        higher_is_better=directions.get(name, False),
                    )
                )
    return comparisons


def _why_nothing(results: list[VariantResult]) -> str:
    """Why there is no comparison: a verdict, so without a final full stop (as summarize's)."""
    if not results:
        return "no predictions logged yet for this deployment"
    if len(results) == 1:
        return f"only one variant ({results[0].name}) is deployed: nothing to compare"
    return "nothing to compare yet"


def describe_result(result: VariantResult) -> dict[str, Any]:
    """A variant's results as plain JSON."""
    return dict(result.__dict__)
