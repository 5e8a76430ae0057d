"""Commands for pipelines: run one with live progress per step, show a run, list runs.

relay pipelines run flows.churn:churn_data --param source=x.csv [--executor dask://host:8786]
relay pipelines show 3f2a9c1e              steps: status, duration, CPU, memory, cache, error
relay pipelines list -p churn
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_duration,
    format_time,
    format_value,
    key_value_table,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
    truncate,
)
from relayml.cli.pipeline_target import load_pipeline, parse_params
from relayml.errors import InvalidInput, NotFound, PipelineFailed

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from relayml.domain.pipelines import PipelineRun, StepRun
    from relayml.pipelines.outcome import StepEvent

__all__ = ["pipelines_app"]

pipelines_app = typer.Typer(
    help="Pipelines: steps marked @relay.step in a @relay.pipeline, cached and recorded; "
    "run them locally or on a Dask cluster.",
    no_args_is_help=True,
)


def _cache_cell(step: StepRun) -> str:
    return {"CACHED": "hit", "FINISHED": "miss", "FAILED": "miss"}.get(step.status, "-")


def _outputs_cell(step: StepRun) -> str:
    return ", ".join(
        f"{name}: {o.get('kind')} {o.get('sha256', '')[:8]}" for name, o in step.outputs.items()
    )


def _error_cell(step: StepRun) -> str:
    lines = [line for line in (step.error or "").strip().splitlines() if line.strip()]
    return truncate(lines[-1].strip(), 60) if lines else ""


def _steps_table(run: PipelineRun) -> Any:
    rows = [
        [
            s.step,
            s.status,
            str(s.attempts),
            format_duration(s.duration),
            "" if s.cpu_time is None else f"{s.cpu_time:.2f}s",
            "" if s.peak_memory_mb is None else f"{s.peak_memory_mb:.0f} MiB",
            _cache_cell(s),
            _outputs_cell(s),
            _error_cell(s),
        ]
        for s in run.steps
    ]
    columns = ["step", "status", "tries", "duration", "CPU", "peak memory", "cache", "outputs"]
    return table([*columns, "error"], rows, title=f"Steps of pipeline run {run.id}")


def _run_duration(run: PipelineRun) -> float | None:
    if run.ended_at is None:
        return None
    return (run.ended_at - run.started_at).total_seconds()


class _Progress:
    """One line per step on standard error: waiting, running, done (with time), cached, failed.

    It appears once the run starts, so that bad input prints its error line alone."""

    def __init__(self, enabled: bool) -> None:
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(finished_text="•"),
                TextColumn("{task.description:<28}"),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None and self.tasks:
            self.progress.stop()

    def __call__(self, event: StepEvent) -> None:
        progress = self.progress
        if progress is None:
            return
        if event.kind == "plan":  # the DAG is valid and the run recorded: show the steps
            progress.start()
            for node in event.nodes:
                self.tasks[node] = progress.add_task(node, total=1, start=False, state="waiting")
            return
        task = self.tasks[event.node]
        if event.kind == "start":
            progress.start_task(task)
            progress.update(task, state="running")
            return
        result = event.result
        assert result is not None
        state = {
            "FINISHED": f"done in {format_duration(result.duration)}",
            "CACHED": "cached (skipped, outputs reused)",
            "FAILED": f"FAILED after {result.attempts} attempt(s)",
            "SKIPPED": "skipped (an upstream step failed)",
        }[result.status]
        progress.update(task, completed=1, state=state)
        progress.stop_task(task)


@pipelines_app.command("run")
def pipelines_run(
    target: Annotated[
        str, typer.Argument(help="The pipeline: module:name or path/to/file.py:name.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-P", help="A pipeline parameter, key=value (repeatable)."),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            "-x",
            help="'local' or dask://host:port. Default: the executor setting (RELAY_EXECUTOR).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Run every step, reusing nothing from the cache (it is refreshed)."
        ),
    ] = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
    firing: Annotated[
        int | None,
        typer.Option("--firing", hidden=True, help="The schedule firing this run reports to."),
    ] = None,
) -> None:
    """Run a pipeline, showing each step as it runs; unchanged steps come from the cache.

    Example: relay pipelines run flows.churn:churn_data --param source=customers.csv
    """
    if firing is None:
        _run_pipeline(target, param or [], executor, force, project, json_output, None)
        return
    from relayml.cli.schedules import report_firing

    with report_firing(project_or_default(project), firing) as started:
        _run_pipeline(target, param or [], executor, force, project, json_output, started)


def _run_pipeline(
    target: str,
    param: list[str],
    executor: str | None,
    force: bool,
    project: str | None,
    json_output: bool,
    on_run: Callable[[str], None] | None,
) -> None:
    """Run a pipeline as `relay pipelines run` does; on_run hears its run id once recorded."""
    pipe = load_pipeline(target)
    params = parse_params(pipe, param)
    name = project_or_default(project)
    with open_cli_backend() as backend, _Progress(enabled=not json_output) as progress:
        try:
            backend.get_project(name)
        except NotFound:  # as relay.init() does: the project is created on first use
            backend.create_project(name)

        def on_event(event: StepEvent) -> None:
            if event.kind == "plan" and on_run is not None:
                on_run(event.run_id)
            progress(event)

        outcome = pipe.execute(
            params,
            executor=executor,
            project=name,
            backend=backend,
            on_event=on_event,
            force=force,
        )
    run = outcome.run
    if json_output:
        print_json(run)
    else:
        console().print(_steps_table(run))
        counts = {s: sum(1 for x in run.steps if x.status == s) for s in ("FINISHED", "CACHED")}
        console().print(
            f"Pipeline run {run.id} {run.status} in {format_duration(_run_duration(run))} "
            f"({counts['FINISHED']} run, {counts['CACHED']} cached of {len(run.steps)} steps). "
            f"Details: relay pipelines show {run.id[:8]}"
        )
    failed = outcome.failed
    if failed is not None:
        if failed.invalid_input:
            raise InvalidInput(f"{failed.error} (pipeline run {run.id})")
        raise PipelineFailed(f"{run.error} (pipeline run {run.id})", run)


@pipelines_app.command("show")
def pipelines_show(
    run_id: Annotated[str, typer.Argument(help="Pipeline run id (or a unique prefix of 6+).")],
    logs: Annotated[
        bool, typer.Option("--logs", help="Also print each step's logs and full error.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show a pipeline run: its params and each step's status, time, CPU, memory and cache hit.

    Example: relay pipelines show 3f2a9c1e --logs
    """
    with open_cli_backend() as backend:
        run = backend.get_pipeline_run(run_id)
    if json_output:
        print_json(run)
        return
    out = console()
    out.print(
        key_value_table(
            {
                "pipeline run": run.id,
                "pipeline": run.pipeline,
                "project": run.project,
                "status": run.status,
                "executor": run.executor,
                "params": run.params or None,
                "started": format_time(run.started_at),
                "ended": format_time(run.ended_at),
                "duration": format_duration(_run_duration(run)),
                "by": run.created_by,
                "error": run.error,
            },
            title=f"Pipeline run {run.id}",
        )
    )
    out.print(_steps_table(run))
    if logs:
        for step in run.steps:
            out.rule(f"{step.step} ({step.status})")
            out.print(step.logs or "(no output)", markup=False, highlight=False)
            if step.error and step.error.strip() not in step.logs:
                out.print(step.error, markup=False, highlight=False)


@pipelines_app.command("list")
def pipelines_list(
    project: ProjectOption = None,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", help="Only runs of this pipeline (module:name).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """List the newest pipeline runs of a project.

    Example: relay pipelines list -p churn --limit 5
    """
    name = project_or_default(project)
    with open_cli_backend() as backend:
        runs = backend.list_pipeline_runs(name, pipeline=pipeline, limit=limit)
    if json_output:
        print_json(runs)
        return
    rows = []
    for run in runs:
        cached = sum(1 for s in run.steps if s.status == "CACHED")
        failed = sum(1 for s in run.steps if s.status == "FAILED")
        steps = f"{len(run.steps)} ({cached} cached" + (f", {failed} failed)" if failed else ")")
        rows.append(
            [
                run.id,
                truncate(run.pipeline, 40),
                run.status,
                run.executor,
                format_time(run.started_at),
                format_duration(_run_duration(run)),
                steps,
                format_value(run.params, 40),
            ]
        )
    columns = ["run id", "pipeline", "status", "executor", "started", "duration", "steps"]
    console().print(table([*columns, "params"], rows, title=f"Pipeline runs of project {name}"))
