"""`relay resources`: what a project's runs, pipelines, storage and deployments use; bottlenecks."""

from __future__ import annotations

from typing import Annotated, Any, cast

import typer
from rich.bar import Bar

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_bytes,
    format_duration,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)

__all__ = ["resources"]

_WIDTH = 20


def _bar(value: float, largest: float) -> Bar:
    return Bar(size=largest or 1.0, begin=0, end=value, width=_WIDTH)


def _rows(rows: list[list[Any]]) -> Any:
    """Rows that hold bars next to text (Rich renders both)."""
    return cast(Any, rows)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _print(o: Any) -> None:
    out = console()
    longest = max((c.wall_seconds for c in o.compute), default=0.0)
    out.print(table(
        ["compute", "name", "runs", "time", "", "mean", "cpu", "peak memory"],
        _rows([[c.kind, c.name, str(c.runs), format_duration(c.wall_seconds),
          _bar(c.wall_seconds, longest), format_duration(c.mean_seconds),
          format_duration(c.cpu_seconds),
          "-" if c.peak_memory_mb is None else f"{c.peak_memory_mb:.1f} MiB"]
         for c in o.compute]),
        title=f"{o.project}: compute",
    ))  # fmt: skip
    biggest = max((s.bytes for s in o.storage), default=0)
    out.print(table(
        ["storage", "name", "items", "size", ""],
        _rows([[s.kind, s.name, str(s.items), format_bytes(s.bytes), _bar(s.bytes, biggest)]
         for s in o.storage]),
        title=f"{o.project}: storage",
    ))  # fmt: skip
    slowest = max((s.p99_ms or 0.0 for s in o.serving), default=0.0)
    out.print(table(
        ["deployment", "predictions", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "",
         "log", "log/day"],
        _rows([[s.deployment, str(s.predictions), str(s.requests),
          "-" if s.error_rate is None else f"{s.errors} ({s.error_rate:.1%})",
          _ms(s.p50_ms), _ms(s.p95_ms), _ms(s.p99_ms), _bar(s.p99_ms or 0.0, slowest),
          format_bytes(s.log_bytes), format_bytes(int(s.log_bytes_per_day))]
         for s in o.serving]),
        title=f"{o.project}: serving, last {o.days} days",
    ))  # fmt: skip
    out.print(table(
        ["bottleneck", "#", "what", "value", "detail"],
        [[b.kind, str(b.rank), b.subject, f"{b.value:.4g} {b.unit}", b.detail]
         for b in o.bottlenecks],
        title=f"{o.project}: bottlenecks, worst first",
    ))  # fmt: skip
    if not (o.compute or o.storage or o.serving):
        out.print(f"Project {o.project} has no runs, pipelines, data or served predictions yet.")


def resources(
    project: ProjectOption = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="Window of the serving figures.")
    ] = 7,
    json_output: JsonOption = False,
) -> None:
    """What a project's runs, pipelines, storage and deployments use, and its bottlenecks.

    Compute time and peak memory of runs (per project and model) and of pipeline steps;
    storage of artifacts, model files, datasets and prediction logs; serving volume, latency
    percentiles and errors per deployment; then the slowest steps, largest artifacts, slowest
    and most failing deployments and fastest-growing logs, worst first.

    Examples:

    relay resources

    relay resources -p churn --days 30 --json
    """
    with open_cli_backend() as backend:
        overview = backend.resource_overview(project_or_default(project), days=days)
    if json_output:
        print_json(overview.model_dump(mode="json"))
        return
    _print(overview)
