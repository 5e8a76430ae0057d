"""Commands for pipelines: run one with live progress per step, show a run, list runs.

relay pipelines run flows.churn:churn_data --param source=x.csv [--executor dask://host:8786]
relay pipelines show 3f2a9c1e              steps: status, duration, CPU, memory, cache, error
relay pipelines list -p churn
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path
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
from relayml.errors import InvalidInput, NotFound, PipelineFailed

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from relayml.domain.pipelines import PipelineRun, StepRun
    from relayml.pipelines.outcome import StepEvent
    from relayml.pipelines.runner import Pipeline

__all__ = ["load_pipeline", "parse_params", "pipelines_app"]

pipelines_app = typer.Typer(
    help="Pipelines: steps marked @relay.step in a @relay.pipeline, cached and recorded; "
    "run them locally or on a Dask cluster.",
    no_args_is_help=True,
)

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def load_pipeline(target: str) -> Pipeline:
    """The pipeline named by 'package.module:name' or 'path/to/file.py:name'."""
    from relayml.pipelines.runner import Pipeline

    module_name, _, attribute = target.rpartition(":")
    if not module_name or not attribute:
        raise InvalidInput(
            f"{target!r} does not name a pipeline; write module:pipeline "
            "(flows.churn:churn_data) or path/to/file.py:pipeline."
        )
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise InvalidInput(f"cannot load pipeline {target!r}: {path} is not a file.")
        name = path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise InvalidInput(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    else:
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))  # like `python -m`: the current folder imports
        _forget_if_moved(module_name)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InvalidInput(
                f"cannot import module {module_name!r} ({exc}); run from the folder that holds "
                "it or install its package."
            ) from exc
    found = getattr(module, attribute, None)
    if not isinstance(found, Pipeline):
        names = sorted(k for k, v in vars(module).items() if isinstance(v, Pipeline))
        what = "does not exist" if found is None else "is not marked @relay.pipeline"
        raise InvalidInput(
            f"{module_name}:{attribute} {what} (pipelines in {module_name}: "
            f"{', '.join(names) or 'none'})."
        )
    return found  # the Dask executor ships its module to the workers


def _forget_if_moved(module_name: str) -> None:
    """Drop an imported package whose files are no longer the ones the path finds now (another
    folder's `flows` imported earlier in this process), so the import below reads the right one."""
    top = module_name.partition(".")[0]
    loaded = getattr(sys.modules.get(top), "__file__", None)
    if loaded is None:
        return
    found = importlib.machinery.PathFinder.find_spec(top, sys.path)
    if found is None or found.origin is None:
        return
    if Path(found.origin).resolve() != Path(loaded).resolve():
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]


def _kind(pipe: Pipeline, key: str) -> Any:
    parameter = pipe.signature.parameters[key]
    try:
        hints = typing.get_type_hints(pipe.fn)
    except Exception:  # unresolvable annotations: fall back to their text
        hints = {}
    hint = hints.get(key, parameter.annotation)
    names = {"int": int, "float": float, "bool": bool, "str": str}
    if isinstance(hint, str):
        hint = names.get(hint, hint)
    if hint in (int, float, bool, str):
        return hint
    default = parameter.default
    if default is not parameter.empty and type(default) in (int, float, bool, str):
        return type(default)
    return None


def parse_params(pipe: Pipeline, pairs: list[str]) -> dict[str, Any]:
    """key=value pairs, each converted to the type the pipeline's parameter declares."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--param {pair!r} must look like key=value.")
        if key not in pipe.signature.parameters:
            takes = ", ".join(pipe.signature.parameters) or "none"
            raise InvalidInput(
                f"pipeline {pipe.name} has no parameter {key!r} (it takes: {takes})."
            )
        kind = _kind(pipe, key)
        try:
            if kind is bool:
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError(text)
                params[key] = text.lower() in _TRUE
            elif kind in (int, float):
                params[key] = kind(text)
            elif kind is str:
                params[key] = text
            else:
                try:
                    params[key] = json.loads(text)
                except ValueError:
                    params[key] = text
        except ValueError:
            raise InvalidInput(
                f"--param {key}={text!r}: pipeline {pipe.name} expects {kind.__name__} there."
            ) from None
    return params


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
