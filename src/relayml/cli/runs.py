"""Commands for runs: list, search, show one, read a metric series, delete and restore."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_bytes,
    format_duration,
    format_number,
    format_time,
    format_value,
    key_value_table,
    open_cli_tracking,
    print_json,
    project_or_default,
    resolve_run_id,
    table,
    truncate,
)
from relayml.errors import NotFound

if TYPE_CHECKING:
    from relayml.domain.entities import Run
    from relayml.domain.search import Field

__all__ = ["run_rows", "runs_app"]

runs_app = typer.Typer(
    help="Runs: executions of training code with their params, metrics, tags and artifacts.",
    no_args_is_help=True,
)

ExperimentOption = Annotated[
    list[str] | None,
    typer.Option(
        "--experiment", "-e", help="Only runs of this experiment (repeatable).", show_default=False
    ),
]
DeletedOption = Annotated[
    bool, typer.Option("--deleted", help="Include deleted runs (and those of deleted experiments).")
]
RunIdArgument = Annotated[
    str, typer.Argument(help="Run id (or a unique prefix of at least 6 characters).")
]
_BASE_COLUMNS = ["run id", "name", "experiment", "status", "started", "duration"]
_SHOWN_ATTRIBUTES = {"run_id", "name", "experiment", "status", "start_time", "duration"}


def _metrics_summary(run: Run, limit: int = 4) -> str:
    items = sorted(run.metrics.items())
    text = ", ".join(f"{k}={format_number(v)}" for k, v in items[:limit])
    if len(items) > limit:
        text += f", … (+{len(items) - limit})"
    return text


def _cell(run: Run, field: Field) -> str:
    if field.kind == "metric":
        value = run.metrics.get(field.key)
        return format_number(value) if value is not None else ""
    if field.kind == "param":
        return truncate(run.params.get(field.key, ""), 30)
    if field.kind == "tag":
        return truncate(run.tags.get(field.key, ""), 30)
    if field.key == "user":
        return run.user
    if field.key == "end_time":
        return format_time(run.end_time)
    return ""


def _column(field: Field) -> str:
    return field.key if field.kind == "attribute" else f"{field.kind}s.{field.key}"


def run_rows(
    runs: Iterable[Run], fields: Sequence[Field] = ()
) -> tuple[list[str], list[list[str]]]:
    """Table columns and rows for runs: the basics, then the given fields or a metric summary."""
    shown = [f for f in fields if not (f.kind == "attribute" and f.key in _SHOWN_ATTRIBUTES)]
    columns = _BASE_COLUMNS + ([_column(f) for f in shown] if shown else ["metrics"])
    rows = []
    for run in runs:
        row = [
            run.id,
            truncate(run.name, 30),
            truncate(run.experiment, 30),
            run.status.value,
            format_time(run.start_time),
            format_duration(run.wall_time),
        ]
        row += [_cell(run, f) for f in shown] if shown else [_metrics_summary(run)]
        rows.append(row)
    return columns, rows


@runs_app.command("list")
def runs_list(
    project: ProjectOption = None,
    experiment: ExperimentOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    deleted: DeletedOption = False,
    json_output: JsonOption = False,
) -> None:
    """List the newest runs of a project.

    Example: relay runs list -p churn -e baseline --limit 5
    """
    name = project_or_default(project)
    with open_cli_tracking() as backend:
        page = backend.search_runs(
            name,
            order_by=["start_time DESC"],
            max_results=limit,
            experiments=experiment,
            include_deleted=deleted,
        )
    if json_output:
        print_json(page.runs)
        return
    columns, rows = run_rows(page.runs)
    console().print(table(columns, rows, title=f"Runs of project {name}"))
    if not page.runs:
        console().print(f"Project {name!r} has no runs yet.")


@runs_app.command("search")
def runs_search(
    filter: Annotated[
        str | None,
        typer.Argument(
            help="Filter such as \"metrics.auc > 0.8 and params.model = 'xgb'\".",
            show_default=False,
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            help="Sort key like 'metrics.auc DESC' (repeatable).",
            show_default=False,
        ),
    ] = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-n", min=1, help="Runs per page.")
    ] = 100,
    page_token: Annotated[
        str | None,
        typer.Option(help="Continue a previous search (its printed next page token)."),
    ] = None,
    experiment: ExperimentOption = None,
    deleted: DeletedOption = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Find runs with a filter and sort them; metrics and params you name become columns.

    A filter compares fields (metrics.KEY, params.KEY, tags.KEY, status, start_time...)
    with values (= != < <= > >= LIKE IN), joined by and / or.

    Example: relay runs search "metrics.auc > 0.8 and params.model = 'xgb'" -o "metrics.auc DESC"
    """
    from relayml.domain.search import fields_of, parse_filter, parse_order_by

    orders = parse_order_by(order_by)
    fields: list[Field] = sorted(fields_of(parse_filter(filter)), key=_column)
    fields += [o.field for o in orders if o.field not in fields]
    name = project_or_default(project)
    with open_cli_tracking() as backend:
        page = backend.search_runs(
            name,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            experiments=experiment,
            include_deleted=deleted,
        )
    if json_output:
        print_json(page)
        return
    columns, rows = run_rows(page.runs, fields)
    out = console()
    out.print(table(columns, rows, title=f"Runs of project {name}"))
    if not page.runs:
        out.print("No runs match.")
    if page.next_page_token:
        out.print(f"More runs match. Next page: --page-token {page.next_page_token}")


@runs_app.command("show")
def runs_show(
    run_id: RunIdArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Show one run: info, params, latest metrics, tags, system context and artifacts.

    A run id is unique across projects; with -p, a run of another project is refused.
    Example: relay runs show 3f2a9c0d1e4b
    """
    with open_cli_tracking() as backend:
        run = backend.get_run(resolve_run_id(backend, run_id))
        if project is not None and run.project != project:
            raise NotFound(f"run {run.id} is in project {run.project!r}, not {project!r}.")
        artifacts = backend.list_artifacts(run.id)
    if json_output:
        print_json({**run.model_dump(mode="json"), "artifacts": artifacts})
        return
    out = console()
    info = {
        "run id": run.id,
        "name": run.name,
        "project": run.project,
        "experiment": run.experiment,
        "status": run.status.value,
        "user": run.user,
        "started": format_time(run.start_time),
        "ended": format_time(run.end_time),
        "duration": format_duration(run.wall_time),
        "cpu time": format_duration(run.cpu_time),
        "peak memory": f"{run.peak_memory_mb:.1f} MiB" if run.peak_memory_mb is not None else "",
    }
    if run.error:
        info["error"] = truncate(run.error, 200)
    if run.deleted_at is not None:
        info["deleted"] = f"{format_time(run.deleted_at)} (relay runs restore {run.id})"
    out.print(key_value_table(info))
    sections = [
        ("Params", ["param", "value"], [[k, truncate(v)] for k, v in sorted(run.params.items())]),
        (
            "Metrics (latest)",
            ["metric", "value"],
            [[k, format_number(v, precise=True)] for k, v in sorted(run.metrics.items())],
        ),
        ("Tags", ["tag", "value"], [[k, truncate(v)] for k, v in sorted(run.tags.items())]),
        (
            "System",
            ["context", "value"],
            [[k, format_value(v, 80)] for k, v in sorted(run.system.items())],
        ),
        (
            "Artifacts",
            ["path", "size", "sha256"],
            [[a.path, format_bytes(a.size), a.sha256[:12]] for a in artifacts],
        ),
    ]
    for title, columns, rows in sections:
        if rows:
            out.print(table(columns, rows, title=title))
        else:
            out.print(f"{title}: none")


@runs_app.command("metrics")
def runs_metrics(
    run_id: RunIdArgument,
    key: Annotated[str, typer.Argument(help="Metric name.")],
    json_output: JsonOption = False,
) -> None:
    """Show every point of one metric of a run: step, value and time.

    Example: relay runs metrics 3f2a9c0d1e4b loss --json
    """
    with open_cli_tracking() as backend:
        full_id = resolve_run_id(backend, run_id)
        points = backend.get_metric_history(full_id, key)
    if json_output:
        print_json(points)
        return
    console().print(
        table(
            ["step", "value", "time"],
            (
                [str(p.step), format_number(p.value, precise=True), format_time(p.timestamp)]
                for p in points
            ),
            title=f"{key} of run {full_id}",
        )
    )


def _compare_rows(runs: Sequence[Run]) -> list[tuple[str, list[str], bool]]:
    """(label, one cell per run, differs) for each param and metric any of the runs has."""
    rows: list[tuple[str, list[str], bool]] = []
    metrics = [{k: format_number(v, precise=True) for k, v in r.metrics.items()} for r in runs]
    for kind, values in (("param", [r.params for r in runs]), ("metric", metrics)):
        for key in sorted(set().union(*values)):
            cells = [v.get(key, "") for v in values]
            rows.append((f"{kind}s.{key}", cells, len(set(cells)) > 1))
    return rows


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or unique prefixes).")],
    only_differences: Annotated[
        bool, typer.Option("--diff", help="Only the params and metrics that differ.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Compare runs side by side: params and latest metrics, differences highlighted.

    Example: relay runs compare 3f2a9c 81be04 --diff
    """
    from relayml.errors import InvalidInput

    if len(run_ids) < 2:
        raise InvalidInput("name at least two runs to compare.")
    with open_cli_tracking() as backend:
        runs = [backend.get_run(resolve_run_id(backend, r)) for r in run_ids]
    rows = [r for r in _compare_rows(runs) if r[2] or not only_differences]
    if json_output:
        print_json(
            {
                "runs": [r.id for r in runs],
                "rows": [{"field": f, "values": c, "differs": d} for f, c, d in rows],
            }
        )
        return
    columns = ["", *(f"{truncate(r.name, 20)} ({r.id[:8]})" for r in runs)]
    from rich.text import Text

    style = {True: "bold yellow", False: ""}
    cells = [[Text(f, style[d]), *(Text(v, style[d]) for v in c)] for f, c, d in rows]
    console().print(table(columns, cells, title="Runs compared (differences in yellow)"))
    if not rows:
        console().print("Nothing to compare: the runs have no params or metrics.")


@runs_app.command("delete")
def runs_delete(run_id: RunIdArgument, json_output: JsonOption = False) -> None:
    """Delete a run: hidden from lists and searches, no more logging; restorable.

    Nothing is erased (params, metrics, artifacts stay); the audit log records who did it.
    Example: relay runs delete 3f2a9c0d1e4b
    """
    with open_cli_tracking() as backend:
        run = backend.delete_run(resolve_run_id(backend, run_id))
    hint = f" Bring it back with `relay runs restore {run.id}`."
    _said(
        run, json_output, f"Deleted run {run.id} ({run.name}, experiment {run.experiment!r}).{hint}"
    )


@runs_app.command("restore")
def runs_restore(run_id: RunIdArgument, json_output: JsonOption = False) -> None:
    """Restore a deleted run: listed, searchable and open to logging again.

    Example: relay runs restore 3f2a9c0d1e4b
    """
    with open_cli_tracking() as backend:
        run = backend.restore_run(resolve_run_id(backend, run_id))
    _said(run, json_output, f"Restored run {run.id} ({run.name}, experiment {run.experiment!r}).")


def _said(run: Run, json_output: bool, message: str) -> None:
    if json_output:
        print_json(run)
    else:
        console().print(message)
