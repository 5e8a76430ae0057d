"""A/B results of a deployment: traffic, latency, metrics and KPIs per variant, and a verdict.

Read from the prediction log and the outcome log (joined by prediction id) since the
deployment's current revision began. Shadows answer the same requests under the same
prediction ids, so they are compared on exactly the live variant's outcomes. The control is
the first live variant; every other variant is a challenger, compared with Bonferroni's alpha.

The figures are built from per-UTC-day sums (deployments/ab_windows.py): counts, latencies, and
for the rows with outcomes the confusion counts or errors; with keep=True each closed day's sums
are kept under the logs' root and read back while its files and joinable outcomes are unchanged.
A KPI's per-row values are taken grouped by confusion cell, so its mean may differ from a mean
in log order in the last binary digit, the same whether kept or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from relayml.deployments.ab_windows import ABDays, GroupSums
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

__all__ = ["ABReport", "VariantResult", "ab_results"]

CELLS = ("tp", "fp", "fn", "tn")


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


def _figures(task: str, sums: GroupSums, kpis: list[KPI]) -> dict[str, np.ndarray]:
    """Per-row figures whose mean is a metric: correct (classification) or errors (regression);
    a KPI's per-row values grouped by confusion cell (their total is its sum)."""
    figures: dict[str, np.ndarray] = {}
    if task == "classification":
        wrong = sums.outcomes - sums.correct
        figures["accuracy"] = np.concatenate([np.ones(sums.correct), np.zeros(wrong)])
        for kpi in kpis:
            counts = sums.cells.get(kpi.name)
            if counts is not None:
                scale = float(kpi.definition.get("scale", 1.0))
                weights = np.array([float(kpi.definition.get(c, 0.0)) for c in CELLS])
                figures[kpi.name] = np.repeat(scale * weights, counts)
    else:
        error = np.concatenate(sums.errors) if sums.errors else np.array([], np.float64)
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
    keep: bool = False,
) -> ABReport:
    """Compare the variants of a deployment on what they answered and the outcomes so far
    (keep: read each closed day's sums back from, and keep them in, the logs' window cache)."""
    deployment: Deployment | None = None
    revision = None
    try:
        deployment = backend.get_deployment(project, model, environment)
        revision = deployment.revision
        since = since or deployment.updated_at
    except Exception:
        deployment = None
    days = ABDays(backend, logs, project, model, environment, since, keep=keep)
    holder = backend.get_model(project, model).aliases.get(environment) if deployment else None
    order = _variant_order(deployment, days.orders(), holder)
    task = "classification"
    positive: str | None = None
    if order:
        version = backend.get_model_version(project, f"{model}/{order[0][1]}")
        task = version.signature.task if version.signature.task != "other" else "regression"
        classes = version.signature.classes or []
        positive = canonical_labels([classes[1]])[0] if len(classes) == 2 else None
    kpis = list(backend.get_project(project).kpis)
    chosen = metric or ("accuracy" if task == "classification" else "mae")
    sums = days.sums(task, kpis, positive)
    days.save()
    live_total = sum(g.predictions for (_, mode), g in sums.groups.items() if mode == "live")
    results: list[VariantResult] = []
    per_row: dict[str, dict[str, np.ndarray]] = {}
    for name, version_number, mode in order:
        group = sums.groups.get((name, mode), GroupSums())
        latency = np.concatenate(group.latency) if group.latency else np.array([], np.float64)
        figures = _figures(task, group, kpis) if group.outcomes else {}
        per_row[name] = figures
        result = VariantResult(
            name=name,
            version=version_number,
            mode=mode,
            predictions=group.predictions,
            share=(group.predictions / live_total if live_total and mode == "live" else 0.0),
            latency_p50_ms=float(np.percentile(latency, 50)) if len(latency) else None,
            latency_p99_ms=float(np.percentile(latency, 99)) if len(latency) else None,
            outcomes=group.outcomes,
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
    deployment: Deployment | None, logged: list[tuple[str, int, str]], holder: int | None
) -> list[tuple[str, int, str]]:
    """(name, version, mode) of each variant: the deployment's order (the variant following
    the alias is the version that holds the environment), then any others logged."""
    order: list[tuple[str, int, str]] = []
    if deployment is not None:
        for variant in deployment.variants:
            version = variant.version if variant.version is not None else holder
            if version is not None:
                order.append((f"v{version}", version, variant.mode))
    for name, version, mode in logged:
        if not any(o[0] == name and o[2] == mode for o in order):
            order.append((name, version, mode))
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
