"""Commands for datasets (`relay datasets list | show | versions | log`) and data checks
(`relay data check`: each check with ✓ or ✗, a few failing rows, exit code 1 on failure)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_number,
    format_time,
    format_value,
    key_value_table,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
    truncate,
)
from relayml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from relayml.data.sources import DataBackend
    from relayml.domain.data import CheckOutcome, DataCheckReport, DatasetVersion

__all__ = ["data_app", "datasets_app", "profile_table", "source_text"]

datasets_app = typer.Typer(
    help="Datasets: immutable versions identified by their content, with schema and profile. "
    "A version is named customers@3, customers@latest, or customers (the latest).",
    no_args_is_help=True,
)
data_app = typer.Typer(
    help="Data checks: declarative rules on a dataset version; the exit code tells CI.",
    no_args_is_help=True,
)

RefArgument = Annotated[
    str,
    typer.Argument(
        help="Dataset version: name@version (customers@3), name@latest, or a name alone."
    ),
]
NameArgument = Annotated[str, typer.Argument(help="Dataset name.")]
_PASS, _FAIL = Text("✓", style="bold green"), Text("✗", style="bold red")
_TOP_SHOWN = 3


@contextmanager
def _backend() -> Iterator[DataBackend]:
    """The CLI's backend, typed by its dataset operations."""
    with open_cli_backend() as backend:
        yield backend


def source_text(source: dict[str, Any]) -> str:
    """Where a version came from, in one line: 'csv /data/c.csv' or 'sql select ... on url'."""
    kind = str(source.get("kind", "unknown"))
    if kind == "sql":
        return f"sql {truncate(str(source.get('query', '')), 60)} on {source.get('url', '')}"
    uri = source.get("uri")
    return f"{kind} {uri}" if uri else kind


def _top(stats: dict[str, Any]) -> str:
    if stats.get("kind") == "boolean":
        return f"true ({stats.get('true', 0)}), false ({stats.get('false', 0)})"
    top = stats.get("top") or []
    text = ", ".join(f"{truncate(str(t['value']), 20)} ({t['count']})" for t in top[:_TOP_SHOWN])
    return text + (", …" if len(top) > _TOP_SHOWN else "")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return format_number(value)
    return format_value(value, 30)


def profile_table(version: DatasetVersion) -> Table:
    """The profile as a table: column, type, nulls, distinct, min, mean, max, top values."""
    columns = (version.profile or {}).get("columns") or {}
    rows = []
    for name, stats in columns.items():
        rows.append(
            [
                name,
                str(stats.get("type", "")),
                str(stats.get("nulls", "")),
                str(stats.get("distinct", "")),
                _cell(stats.get("min")),
                _cell(stats.get("mean")),
                _cell(stats.get("max")),
                _top(stats),
            ]
        )
    return table(
        ["column", "type", "nulls", "distinct", "min", "mean", "max", "top values"],
        rows,
        title=f"Profile of {version.ref} ({version.rows} rows)",
    )


@datasets_app.command("list")
def datasets_list(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """List the datasets of a project with their latest version.

    Example: relay datasets list -p churn
    """
    name = project_or_default(project)
    with _backend() as backend:
        found = backend.list_datasets(name)
    if json_output:
        print_json(found)
        return
    console().print(
        table(
            ["dataset", "latest", "description", "created"],
            (
                [
                    d.name,
                    f"v{d.latest_version}" if d.latest_version else "",
                    truncate(d.description, 50),
                    format_time(d.created_at),
                ]
                for d in found
            ),
            title=f"Datasets of project {name}",
        )
    )
    if not found:
        console().print(
            f"Project {name!r} has no datasets yet. Log one with relay.log_dataset(name, data) "
            "or `relay datasets log NAME FILE`."
        )


@datasets_app.command("show")
def datasets_show(
    ref: RefArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Show one version: size, content hash, source, schema and profile, last data check.

    Example: relay datasets show customers@3 -p churn
    """
    name = project_or_default(project)
    with _backend() as backend:
        version = backend.get_dataset_version(name, ref)
        checks = backend.list_data_checks(name, version.ref)
    if json_output:
        print_json({**version.model_dump(mode="json"), "checks": checks})
        return
    out = console()
    last = checks[0] if checks else None
    out.print(
        key_value_table(
            {
                "dataset": version.ref,
                "project": version.project,
                "rows": str(version.rows),
                "columns": str(version.columns),
                "content hash": version.content_hash,
                "parquet sha256": version.sha256,
                "source": source_text(version.source),
                "created by": version.created_by,
                "created": format_time(version.created_at),
                "last check": _check_summary(last) if last else "none yet",
            }
        )
    )
    out.print(profile_table(version))


def _check_summary(report: DataCheckReport) -> str:
    failed = sum(1 for o in report.outcomes if not o.passed)
    state = "passed" if report.passed else f"failed ({failed} of {len(report.outcomes)})"
    return f"{state}, {format_time(report.created_at)} by {report.created_by}"


@datasets_app.command("versions")
def datasets_versions(
    name: NameArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """List the versions of a dataset, newest first.

    Example: relay datasets versions customers -p churn
    """
    project_name = project_or_default(project)
    with _backend() as backend:
        versions = backend.list_dataset_versions(project_name, name)
    if json_output:
        print_json(versions)
        return
    console().print(
        table(
            ["version", "rows", "columns", "content hash", "source", "created by", "created"],
            (
                [
                    v.ref,
                    str(v.rows),
                    str(v.columns),
                    v.content_hash[:12],
                    truncate(source_text(v.source), 50),
                    v.created_by,
                    format_time(v.created_at),
                ]
                for v in versions
            ),
            title=f"Versions of {name} (project {project_name})",
        )
    )


@datasets_app.command("log")
def datasets_log(
    name: NameArgument,
    file: Annotated[Path, typer.Argument(help="A .parquet or .csv file.", dir_okay=False)],
    description: Annotated[
        str, typer.Option("--description", "-d", help="What the dataset holds.")
    ] = "",
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Log a Parquet or CSV file as a version of a dataset (the same content: the same version).

    Example: relay datasets log customers data/customers.csv -p churn
    """
    from relayml.data.sources import log_dataset

    project_name = project_or_default(project)
    with _backend() as backend:
        version = log_dataset(backend, project_name, name, file, description=description)
    if json_output:
        print_json(version)
        return
    console().print(
        f"Logged {version.ref} ({version.rows} rows, {version.columns} columns, "
        f"content {version.content_hash[:12]})."
    )


def _read_checks(path: Path) -> dict[str, Any]:
    from relayml.data.checks import parse_spec, read_spec

    if not path.is_file():
        where = "is a folder" if path.is_dir() else f"does not exist (in {Path.cwd()})"
        raise NotFound(f"check file {str(path)!r} {where}. Name the YAML file with --checks.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; a check spec is a YAML file.") from None
    try:
        spec = read_spec(text)
        parse_spec(spec)
        return spec
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}") from None


def _examples(outcome: CheckOutcome) -> Table:
    names = list(dict.fromkeys(k for row in outcome.examples for k in row))
    result = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    for column in names:
        result.add_column("row" if column == "_row" else column, overflow="fold")
    for row in outcome.examples:
        result.add_row(*(format_value(row.get(c), 30) for c in names))
    return result


def _print_checks(report: DataCheckReport, ref: str) -> None:
    out = console()
    out.print(Text(f"Data checks of {ref}", style="bold"))
    for outcome in report.outcomes:
        line = Text.assemble(
            _PASS if outcome.passed else _FAIL,
            " ",
            Text(outcome.name, style="" if outcome.passed else "red"),
        )
        if outcome.detail:
            line.append(f" — {outcome.detail}", style="dim" if outcome.passed else "")
        out.print(line)
        if outcome.examples:
            shown, failing = len(outcome.examples), outcome.failing_rows
            label = (
                f"first {shown} of {failing} failing rows"
                if failing > shown
                else ("failing row" if shown == 1 else "failing rows")
            )
            out.print(Text(f"    {label}:", style="dim"))
            out.print(Padding(_examples(outcome), (0, 0, 0, 4), expand=False))
    failed = [o for o in report.outcomes if not o.passed]
    total = len(report.outcomes)
    if failed:
        headline = f"{len(failed)} of {total} checks failed on {ref} (report {report.id})."
        out.print(Text.assemble(("FAILED", "bold red"), "  ", headline))
    else:
        headline = f"all {total} checks passed on {ref} (report {report.id})."
        out.print(Text.assemble(("PASSED", "bold green"), "  ", headline))


@data_app.command("check")
def data_check(
    ref: RefArgument,
    checks: Annotated[
        Path,
        typer.Option("--checks", "-c", help="The check spec (YAML or JSON).", dir_okay=False),
    ],
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run declarative data checks on a dataset version and store the report.

    Checks: type, not_null, min/max, allowed, unique, pattern per column;
    rows (min/max), freshness (column, max_age_hours) and distribution
    (column, reference version, max_psi). Exits 0 when every check passed
    and 1 otherwise.

    Example: relay data check customers@3 --checks checks.yaml -p churn
    """
    from relayml.data.checks import run_checks

    spec = _read_checks(checks)
    name = project_or_default(project)
    with _backend() as backend:
        version = backend.get_dataset_version(name, ref)
        report = run_checks(backend, name, version.ref, spec)
    if json_output:
        print_json(report)
    else:
        _print_checks(report, version.ref)
    if not report.passed:
        raise typer.Exit(1)
