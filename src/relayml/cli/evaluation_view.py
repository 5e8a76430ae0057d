"""How evaluations read in the terminal: headline metrics first, KPI values in their units, and
versions compared side by side with the best value of each row marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text

from relayml.cli._common import console, format_number, format_time, plain_table

if TYPE_CHECKING:
    from relayml.domain.models import Evaluation, ModelVersion

__all__ = [
    "BEST_MARK",
    "compare_rows",
    "evaluation_rows",
    "headline_metrics",
    "kpi_summary",
    "lower_is_better",
    "pick_evaluation",
    "print_comparison",
]

# The metrics a reader looks at first, in this order; the others follow by name.
_HEADLINE = (
    "roc_auc", "auc", "accuracy", "f1", "precision", "recall", "log_loss",
    "rmse", "mae", "r2", "mape",
)  # fmt: skip
_LOWER_IS_BETTER = {"brier", "mae", "mse", "rmse", "mape", "msle", "rmsle", "max_error"}
_NO_BEST = {"rows", "positive_rate"}
BEST_MARK = "★"


def ordered_metrics(names: Sequence[str] | set[str]) -> list[str]:
    """Metric names, headline metrics first, the rest by name; the row count left out."""
    present = set(names) - {"rows"}
    first = [m for m in _HEADLINE if m in present]
    return first + sorted(present - set(first))


def lower_is_better(metric: str) -> bool | None:
    """True when a smaller value of the metric is better, None when neither is."""
    name = metric.lower()
    if name in _NO_BEST:
        return None
    return name in _LOWER_IS_BETTER or "loss" in name or "error" in name


def headline_metrics(evaluation: Evaluation, limit: int = 4) -> str:
    """The first few metrics of an evaluation as 'name=value, ...'."""
    names = ordered_metrics(set(evaluation.metrics))
    text = ", ".join(f"{m}={format_number(evaluation.metrics[m])}" for m in names[:limit])
    if len(names) > limit:
        text += f", … (+{len(names) - limit})"
    return text


def kpi_value(kpi: dict[str, Any]) -> str:
    """One KPI estimate with its unit, e.g. '12.5 %' or 'not estimated'."""
    value = kpi.get("value")
    if value is None:
        return "not estimated"
    unit = kpi.get("unit") or ""
    return f"{format_number(value)} {unit}".strip()


def kpi_summary(evaluation: Evaluation) -> str:
    """The KPI estimates of an evaluation as 'name=value unit, ...'."""
    return ", ".join(f"{name}={kpi_value(kpi)}" for name, kpi in sorted(evaluation.kpis.items()))


def evaluation_rows(evaluations: Sequence[Evaluation]) -> list[list[str]]:
    """Table rows (dataset, rows, metrics, KPIs, by, evaluated) for evaluations."""
    return [
        [
            e.dataset,
            str(e.rows),
            headline_metrics(e),
            kpi_summary(e),
            e.created_by,
            format_time(e.created_at),
        ]
        for e in evaluations
    ]


def pick_evaluation(evaluations: list[Evaluation], dataset: str | None) -> Evaluation | None:
    """The newest evaluation (the list is newest first), on the dataset when one is named."""
    return next((e for e in evaluations if dataset is None or e.dataset == dataset), None)


def _best(values: dict[str, float], lower: bool | None) -> set[str]:
    """The columns holding the best value of a row; none when all are equal or none is better."""
    finite = {k: v for k, v in values.items() if v == v and abs(v) != float("inf")}
    if lower is None or len(finite) < 2 or len(set(finite.values())) == 1:
        return set()
    target = min(finite.values()) if lower else max(finite.values())
    return {k for k, v in finite.items() if v == target}


def compare_rows(
    picked: list[tuple[str, Evaluation | None]],
) -> tuple[list[tuple[str, dict[str, str], set[str]]], dict[str, list[str]]]:
    """Rows (label, cell per column, best columns) and, per metric or KPI, its best versions."""
    found = [(label, e) for label, e in picked if e is not None]
    rows: list[tuple[str, dict[str, str], set[str]]] = [
        ("dataset", {label: e.dataset for label, e in found}, set()),
        ("rows", {label: str(e.rows) for label, e in found}, set()),
        ("evaluated", {label: format_time(e.created_at) for label, e in found}, set()),
    ]
    best_of: dict[str, list[str]] = {}
    for metric in ordered_metrics({m for _, e in found for m in e.metrics}):
        values = {label: e.metrics[metric] for label, e in found if metric in e.metrics}
        best = _best(values, lower_is_better(metric))
        rows.append((metric, {k: format_number(v) for k, v in values.items()}, best))
        best_of[metric] = sorted(best)
    for kpi in sorted({k for _, e in found for k in e.kpis}):
        cells = {label: e.kpis[kpi] for label, e in found if kpi in e.kpis}
        unit = next((c.get("unit") for c in cells.values() if c.get("unit")), "")
        direction = next((c.get("direction") for c in cells.values() if c.get("direction")), None)
        numbers = {k: float(c["value"]) for k, c in cells.items() if c.get("value") is not None}
        best = _best(numbers, None if direction is None else direction == "decrease")
        title = f"KPI {kpi}" + (f" ({unit})" if unit else "")
        rows.append((title, {k: kpi_value(c) for k, c in cells.items()}, best))
        best_of[f"kpi:{kpi}"] = sorted(best)
    return rows, best_of


def print_comparison(
    versions: list[ModelVersion],
    picked: list[tuple[str, Evaluation | None]],
    rows: list[tuple[str, dict[str, str], set[str]]],
    dataset: str | None,
) -> None:
    out = console()
    headers = [v.ref + (f" ({', '.join(v.aliases)})" if v.aliases else "") for v in versions]
    where = f" on {dataset}" if dataset else " (newest evaluation of each)"
    result = plain_table(["", *headers], title=f"Comparison{where}")
    for label, cells, best in rows:
        line: list[Text] = [Text(label, style="bold")]
        for ref, evaluation in picked:
            if evaluation is None:
                line.append(Text("—", style="dim"))
            elif ref in best:
                line.append(Text(f"{cells.get(ref, '')} {BEST_MARK}", style="bold green"))
            else:
                line.append(Text(cells.get(ref, "")))
        result.add_row(*line)
    out.print(result)
    if any(best for _, _, best in rows):
        out.print(f"{BEST_MARK} best value of the row (lowest for loss and error metrics).")
    datasets = sorted({e.dataset for _, e in picked if e is not None})
    if len(datasets) > 1:
        out.print(
            f"The versions were evaluated on different datasets ({', '.join(datasets)}); "
            "compare them on one with --evaluation-dataset NAME."
        )
    for ref, evaluation in picked:
        if evaluation is None:
            on = f" on {dataset}" if dataset else ""
            out.print(
                f"{ref} has no evaluation{on}: evaluate it with relay.evaluate() in Python, "
                f"then list what it has with `relay models evaluations {ref}`."
            )
