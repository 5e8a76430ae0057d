"""`relay monitor`: drift and performance of a deployment per time window and variant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_number,
    open_cli_backend,
    print_json,
    project_or_default,
    settings,
    table,
)
from relayml.cli.promotions import EnvOption

__all__ = ["monitor_app"]

monitor_app = typer.Typer(
    no_args_is_help=True,
    help="How deployed models do: drift of inputs and predictions against the training data, "
    "and performance once outcomes arrive (estimated before).\n\n"
    "Examples:\n\n"
    "relay monitor drift churn --env production --window day\n\n"
    "relay monitor performance churn --env production --window hour --by-variant",
)

ModelArgument = Annotated[str, typer.Argument(help="The registered model, e.g. churn.")]
WindowOption = Annotated[
    str, typer.Option("--window", "-w", help="Window size: hour, day or week.")
]
SinceOption = Annotated[
    datetime | None,
    typer.Option(help="Only predictions from this moment on (ISO date or date-time, UTC)."),
]
VariantOption = Annotated[
    bool, typer.Option("--by-variant", help="One row per window and variant.")
]


def _since(value: datetime | None) -> datetime | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _when(start: datetime, variant: str | None) -> str:
    label = start.strftime("%Y-%m-%d %H:%M")
    return f"{label} {variant}" if variant else label


def _per_window(
    compute: Any,
    model: str,
    env: str,
    window: str,
    since: datetime | None,
    by_variant: bool,
    project: str | None,
) -> list[Any]:
    """Run a per-window monitoring function on the CLI's backend."""
    from relayml.backend import prediction_logs
    from relayml.monitoring.windows import WindowQuery

    query = WindowQuery(project_or_default(project), model, env, window, _since(since), by_variant)
    with open_cli_backend() as backend:
        windows: list[Any] = compute(
            backend,
            prediction_logs(settings()),
            query,
        )
    return windows


def _print_windows(windows: list[Any]) -> None:
    print_json(
        [{**w.__dict__, "start": w.start.isoformat(), "end": w.end.isoformat()} for w in windows]
    )


@monitor_app.command("drift")
def drift(
    model: ModelArgument,
    env: EnvOption,
    window: WindowOption = "day",
    since: SinceOption = None,
    reference: Annotated[
        str | None,
        typer.Option(help="Reference dataset version (default: the model's training dataset)."),
    ] = None,
    by_variant: VariantOption = False,
    executor: Annotated[
        str | None,
        typer.Option(help="dask://host:8786: read and summarise the windows on a Dask cluster."),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Drift per window: which input columns and whether the predictions moved."""
    from relayml.backend import prediction_logs
    from relayml.monitoring.windows import WindowQuery, drift_by_window
    from relayml.monitoring.windows_dask import drift_by_window_on_dask

    query = WindowQuery(project_or_default(project), model, env, window, _since(since), by_variant)
    logs = prediction_logs(settings())
    with open_cli_backend() as backend:
        if executor:
            ref_name, windows = drift_by_window_on_dask(
                backend, logs, query, executor, reference=reference
            )
        else:
            ref_name, windows = drift_by_window(backend, logs, query, reference=reference)
    if json_output:
        print_json(
            {
                "reference": ref_name,
                "windows": [
                    {
                        "start": w.start.isoformat(),
                        "end": w.end.isoformat(),
                        "variant": w.variant,
                        "rows": w.rows,
                        **w.report.to_dict(),
                    }
                    for w in windows
                ],
            }
        )
        return
    out = console()
    out.print(Text.assemble((f"{model} in {env}", "bold"), f": drift against {ref_name}"))
    rows: list[list[Any]] = []
    for w in windows:
        prediction = w.report.prediction
        rows.append(
            [
                _when(w.start, w.variant),
                str(w.rows),
                f"{w.report.share:.0%}",
                Text("yes", style="bold red") if w.report.dataset_drifted else "no",
                ", ".join(w.report.drifted_columns) or "-",
                ("drifted" if prediction.drifted else "stable") if prediction else "-",
            ]
        )
    headers = ["window", "rows", "drift share", "dataset drifted", "drifted columns", "prediction"]
    out.print(table(headers, rows))
    if windows:
        last = windows[-1].report
        detail = [
            [c.column, c.kind, c.method, format_number(c.score), format_number(c.threshold),
             Text("drifted", style="red") if c.drifted else "ok"]
            for c in last.columns
        ]  # fmt: skip
        headers = ["column", "kind", "method", "score", "threshold", ""]
        out.print(table(headers, detail, title="Latest window, per column"))


@monitor_app.command("performance")
def performance(
    model: ModelArgument,
    env: EnvOption,
    window: WindowOption = "day",
    since: SinceOption = None,
    by_variant: VariantOption = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Metrics per window once outcomes arrive, and the estimate from probabilities before."""
    from relayml.monitoring.windows import performance_by_window

    windows = _per_window(performance_by_window, model, env, window, since, by_variant, project)
    if json_output:
        _print_windows(windows)
        return
    names = sorted({k for w in windows for k in w.metrics})
    estimated = sorted({k for w in windows for k in w.estimated})
    headers = [
        "window",
        "predictions",
        "outcomes",
        *names,
        *(f"{k} (estimated)" for k in estimated),
    ]
    rows = [
        [
            _when(w.start, w.variant),
            str(w.predictions),
            f"{w.outcomes} ({w.outcomes / w.predictions:.0%})" if w.predictions else "0",
            *(format_number(w.metrics.get(k)) for k in names),
            *(format_number(w.estimated.get(k)) for k in estimated),
        ]
        for w in windows
    ]
    console().print(table(headers, rows))


@monitor_app.command("kpis")
def kpis(
    model: ModelArgument,
    env: EnvOption,
    window: WindowOption = "day",
    since: SinceOption = None,
    by_variant: VariantOption = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """The project's KPIs per window, in their units and against their targets."""
    from relayml.monitoring.kpis import kpis_by_window, progress_text

    windows = _per_window(kpis_by_window, model, env, window, since, by_variant, project)
    if json_output:
        _print_windows(windows)
        return
    out = console()
    if not any(w.kpis for w in windows):
        out.print("The project has no KPIs; give them with relay.init(kpis=[...]).")
        return
    for w in windows:
        counts = f": {w.predictions} predictions, {w.outcomes} with outcomes"
        out.print(Text.assemble((_when(w.start, w.variant), "bold"), counts))
        for name, figure in w.kpis.items():
            out.print(f"  {progress_text(name, figure)}")
