"""Commands for registered models: list, show, versions, evaluations and side-by-side comparison.

Promotions, approvals, the history of environments, policies and gate checks are in
:mod:`relayml.cli.promotions`, which adds its commands to the same ``relay models`` group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_bytes,
    format_number,
    format_time,
    key_value_table,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
    truncate,
)

if TYPE_CHECKING:
    from relayml.domain.models import Evaluation, ModelVersion, Signature

__all__ = [
    "NameArgument",
    "RefArgument",
    "fit_title",
    "headline_metrics",
    "kpi_summary",
    "lower_is_better",
    "models_app",
    "plain_table",
]

models_app = typer.Typer(
    help="Models: registered versions, their evaluations, environments and promotions. "
    "A version is named churn/3, churn@production (the version in an environment), "
    "or churn (the latest).",
    no_args_is_help=True,
)

RefArgument = Annotated[
    str,
    typer.Argument(
        help="Model version: name/version (churn/3), name@environment (churn@production) "
        "or a name alone for its latest version."
    ),
]
NameArgument = Annotated[str, typer.Argument(help="Model name.")]

# The metrics a reader looks at first, in this order; the others follow by name.
_HEADLINE = (
    "roc_auc", "auc", "accuracy", "f1", "precision", "recall", "log_loss",
    "rmse", "mae", "r2", "mape",
)  # fmt: skip
_LOWER_IS_BETTER = {"brier", "mae", "mse", "rmse", "mape", "msle", "rmsle", "max_error"}
_NO_BEST = {"rows", "positive_rate"}
BEST_MARK = "★"


def fit_title(result: Table) -> Table:
    """The table made at least as wide as its title, so that a narrow table keeps it on a line."""
    if isinstance(result.title, str):
        result.min_width = len(result.title)
    return result


def plain_table(columns: Sequence[str], *, title: str | None = None) -> Table:
    """An empty Rich table in the style of the other commands, for cells with styles."""
    result = fit_title(Table(title=title, title_justify="left"))
    for index, name in enumerate(columns):
        result.add_column(name, no_wrap=index == 0, overflow="fold")
    return result


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


def _environments(aliases: dict[str, int]) -> str:
    return ", ".join(f"{env}: v{version}" for env, version in sorted(aliases.items()))


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


_EVALUATION_COLUMNS = ["dataset", "rows", "metrics", "KPIs", "by", "evaluated"]


@models_app.command("list")
def models_list(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """List the registered models of a project with their latest version and environments.

    Example: relay models list -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        models = backend.list_models(name)
    if json_output:
        print_json(models)
        return
    console().print(
        fit_title(
            table(
                ["model", "latest", "environments", "owner", "created"],
                (
                    [
                        m.name,
                        f"v{m.latest_version}" if m.latest_version else "",
                        _environments(m.aliases),
                        m.owner,
                        format_time(m.created_at),
                    ]
                    for m in models
                ),
                title=f"Models of project {name}",
            )
        )
    )
    if not models:
        console().print(
            f"Project {name!r} has no models yet. Log one with run.log_model(model, name=...)."
        )


def _signature_table(signature: Signature) -> Table:
    columns = [("input", c) for c in signature.inputs] + [("output", c) for c in signature.outputs]
    return table(
        ["", "column", "dtype", "nullable"],
        ([kind, c.name, c.dtype, "yes" if c.nullable else ""] for kind, c in columns),
        title="Signature",
    )


def _signature_facts(signature: Signature) -> dict[str, str]:
    classes = ", ".join(str(c) for c in signature.classes or [])
    return {
        "task": signature.task,
        "takes": signature.input_kind,
        "gives": f"shape {signature.output_shape}",
        "classes": classes,
        "probabilities": "yes (predict_proba)" if signature.has_proba else "",
    }


@models_app.command("show")
def models_show(
    ref: RefArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Show one version: signature, requirements, files, environments and evaluations.

    Example: relay models show churn@production -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        version = backend.get_model_version(name, ref)
        evaluations = backend.list_evaluations(name, version.ref)
    if json_output:
        print_json({**version.model_dump(mode="json"), "evaluations": evaluations})
        return
    out = console()
    out.print(
        key_value_table(
            {
                "model": version.ref,
                "project": version.project,
                "environments": ", ".join(version.aliases) or "none",
                "flavor": version.flavor,
                "description": version.description,
                "run": version.run_id or "",
                "created by": version.created_by,
                "created": format_time(version.created_at),
                **_signature_facts(version.signature),
            }
        )
    )
    out.print(_signature_table(version.signature))
    if version.requirements:
        out.print(table(["requirement"], ([r] for r in version.requirements), title="Requirements"))
    else:
        out.print("Requirements: none")
    out.print(
        table(
            ["path", "size", "sha256"],
            ([f.path, format_bytes(f.size), f.sha256[:12]] for f in version.files),
            title="Files",
        )
    )
    if evaluations:
        out.print(table(_EVALUATION_COLUMNS, evaluation_rows(evaluations), title="Evaluations"))
    else:
        out.print(f"Evaluations: none yet (evaluate {version.ref} with relay.evaluate()).")


@models_app.command("versions")
def models_versions(
    name: NameArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """List the versions of a model, newest first, with the environments they hold.

    Example: relay models versions churn -p churn
    """
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        versions = backend.list_model_versions(project_name, name)
    if json_output:
        print_json(versions)
        return
    console().print(
        fit_title(
            table(
                [
                    "version",
                    "environments",
                    "flavor",
                    "run",
                    "created by",
                    "created",
                    "description",
                ],
                (
                    [
                        v.ref,
                        ", ".join(v.aliases),
                        v.flavor,
                        v.run_id or "",
                        v.created_by,
                        format_time(v.created_at),
                        truncate(v.description, 40),
                    ]
                    for v in versions
                ),
                title=f"Versions of {name} (project {project_name})",
            )
        )
    )


@models_app.command("evaluations")
def models_evaluations(
    ref: RefArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """List the evaluations of a version, newest first: dataset, rows, metrics and KPIs.

    Example: relay models evaluations churn/3 -p churn
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        version = backend.get_model_version(name, ref)
        evaluations = backend.list_evaluations(name, version.ref)
    if json_output:
        print_json(evaluations)
        return
    out = console()
    out.print(
        fit_title(
            table(
                _EVALUATION_COLUMNS,
                evaluation_rows(evaluations),
                title=f"Evaluations of {version.ref} (project {name})",
            )
        )
    )
    if not evaluations:
        out.print(f"{version.ref} has no evaluations yet; evaluate it with relay.evaluate().")


def _pick(evaluations: list[Evaluation], dataset: str | None) -> Evaluation | None:
    """The newest evaluation (the list is newest first), on the dataset when one is named."""
    return next((e for e in evaluations if dataset is None or e.dataset == dataset), None)


def _best(values: dict[str, float], lower: bool | None) -> set[str]:
    """The columns holding the best value of a row; none when all are equal or none is better."""
    finite = {k: v for k, v in values.items() if v == v and abs(v) != float("inf")}
    if lower is None or len(finite) < 2 or len(set(finite.values())) == 1:
        return set()
    target = min(finite.values()) if lower else max(finite.values())
    return {k for k, v in finite.items() if v == target}


def _compare_rows(
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


@models_app.command("compare")
def models_compare(
    refs: Annotated[
        list[str],
        typer.Argument(help="Two or more versions: churn/2 churn/3 churn@production ..."),
    ],
    evaluation_dataset: Annotated[
        str | None,
        typer.Option(
            "--evaluation-dataset",
            "-d",
            help="Compare the evaluations on this dataset. Default: each version's newest.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compare versions side by side on their stored evaluations: metrics and KPIs.

    Each column is a version: its newest evaluation, or its newest on the
    dataset you name. The best value of each row is marked ★ (for loss and
    error metrics, the lowest).

    Example: relay models compare churn/2 churn/3 --evaluation-dataset holdout
    """
    if len(refs) < 2:
        raise typer.BadParameter("name at least two versions to compare.", param_hint="REFS")
    name = project_or_default(project)
    versions: list[ModelVersion] = []
    picked: list[tuple[str, Evaluation | None]] = []
    with open_cli_backend() as backend:
        for ref in refs:
            version = backend.get_model_version(name, ref)
            if any(v.ref == version.ref for v in versions):
                continue
            versions.append(version)
            evaluations = backend.list_evaluations(name, version.ref)
            picked.append((version.ref, _pick(evaluations, evaluation_dataset)))
    rows, best_of = _compare_rows(picked)
    if json_output:
        print_json(
            {
                "dataset": evaluation_dataset,
                "versions": [
                    {"ref": v.ref, "environments": v.aliases, "evaluation": e}
                    for v, (_, e) in zip(versions, picked, strict=True)
                ],
                "best": best_of,
            }
        )
        return
    _print_comparison(versions, picked, rows, evaluation_dataset)


def _print_comparison(
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
