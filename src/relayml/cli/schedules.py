"""`relay schedules`: pipelines that run on a cron time (UTC) or on an event, and their firings.

relay schedules add nightly --pipeline flows.churn:churn_data --cron "0 6 * * *"
relay schedules add on-data --pipeline flows.churn:churn_data --on dataset:customers
relay schedules list | show NAME | pause NAME | resume NAME | remove NAME
relay schedules tick      fire what is due now (what `relay server` does every 30 s)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_time,
    format_value,
    key_value_table,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
    truncate,
)
from relayml.errors import NotFound, RelayError

if TYPE_CHECKING:
    from relayml.domain.schedules import Firing, Schedule

__all__ = ["report_firing", "schedules_app"]

schedules_app = typer.Typer(
    no_args_is_help=True,
    help="Schedules: run a pipeline on a cron time (UTC) or when a dataset gets a new version, "
    "an alert fires or a model is promoted. `relay server` fires them; each firing is recorded "
    "with the pipeline run it started.",
)


def _target(pipeline: str) -> str:
    """The target with a file path made absolute (the run may start from another folder)."""
    module, _, attribute = pipeline.rpartition(":")
    if module.endswith(".py"):
        return f"{Path(module).resolve()}:{attribute}"
    return pipeline


def _due(schedule: Schedule) -> str:
    if not schedule.enabled:
        return "paused"
    if schedule.next_due is not None:
        return format_time(schedule.next_due)
    return "on the event"


@schedules_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The schedule's name, e.g. nightly-retrain.")],
    pipeline: Annotated[
        str,
        typer.Option("--pipeline", help="The pipeline, as relay pipelines run takes it."),
    ],
    cron: Annotated[
        str | None,
        typer.Option("--cron", help="A cron expression in UTC, e.g. '0 6 * * *' (06:00 daily)."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="An event: dataset:NAME (a new version), alert:RULE (it fired) or "
            "promotion:MODEL@ENV (a version moved there).",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-P", help="A pipeline parameter, key=value (repeatable)."),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add a schedule that runs a pipeline on a cron time or an event, from now on.

    Example: relay schedules add nightly --pipeline flows.churn:churn_data --cron "0 6 * * *"
    """
    from relayml.cli.pipeline_target import load_pipeline, parse_params
    from relayml.schedules.local import trigger_of

    trigger_of(cron, on)  # one trigger, well formed: before the pipeline is imported
    target = _target(pipeline)
    parse_params(load_pipeline(target), param or [])  # the pipeline and its params exist
    params = dict(p.split("=", 1) for p in param or [])
    params = {k.strip(): v for k, v in params.items()}
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        try:
            backend.get_project(project_name)
        except NotFound:  # as `relay pipelines run` does: the project is created on first use
            backend.create_project(project_name)
        schedule = backend.add_schedule(
            project_name, name, target, cron=cron, on=on, params=params, workdir=str(Path.cwd())
        )
    if json_output:
        print_json(schedule)
        return
    when = (
        f"at '{schedule.trigger.cron}' (UTC), next {format_time(schedule.next_due)}"
        if schedule.trigger.kind == "cron"
        else f"on {schedule.trigger.text()}"
    )
    console().print(f"Schedule {name} added: runs {schedule.pipeline} {when}.")


@schedules_app.command("list")
def list_schedules(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """The project's schedules: trigger, pipeline, when each last fired and is next due."""
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        schedules = backend.list_schedules(project_name)
    if json_output:
        print_json(schedules)
        return
    rows = [
        [
            s.name,
            s.trigger.text(),
            truncate(s.pipeline, 40),
            format_value(s.params or None, 30),
            format_time(s.last_fired_at),
            _due(s),
        ]
        for s in schedules
    ]
    columns = ["name", "trigger", "pipeline", "params", "last fired", "next"]
    console().print(table(columns, rows, title=f"Schedules of project {project_name}"))


def _firings_table(firings: list[Firing], title: str) -> object:
    rows = [
        [
            str(f.id),
            format_time(f.fired_at),
            truncate(f.reason, 60),
            f.status,
            f.pipeline_run or "",
            truncate((f.error or "").strip().splitlines()[-1] if f.error else "", 60),
        ]
        for f in firings
    ]
    columns = ["firing", "fired", "reason", "status", "pipeline run", "error"]
    return table(columns, rows, title=title)


@schedules_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """A schedule and its newest firings (why, when, the pipeline run, how it ended)."""
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        detail = backend.get_schedule(project_name, name)
    if json_output:
        print_json(detail)
        return
    s = detail.schedule
    out = console()
    out.print(
        key_value_table(
            {
                "schedule": s.name,
                "project": s.project,
                "pipeline": s.pipeline,
                "params": s.params or None,
                "trigger": s.trigger.text() + (" (UTC)" if s.trigger.kind == "cron" else ""),
                "state": "active" if s.enabled else "paused",
                "next": _due(s),
                "added": f"{format_time(s.created_at)} by {s.created_by}",
                "runs from": s.workdir,
            },
            title=f"Schedule {s.name}",
        )
    )
    out.print(_firings_table(detail.firings, f"Firings of {s.name}, newest first"))


def _change(verb: str, done: str) -> Callable[..., None]:
    def command(
        name: Annotated[str, typer.Argument(help="The schedule's name.")],
        project: ProjectOption = None,
    ) -> None:
        with open_cli_backend() as backend:
            getattr(backend, f"{verb}_schedule")(project_or_default(project), name)
        console().print(f"Schedule {name} {done}.")

    return command


schedules_app.command("pause", help="Stop a schedule from firing until resumed.")(
    _change("pause", "paused")
)
schedules_app.command(
    "resume", help="Let a paused schedule fire again: on times and events from now on."
)(_change("resume", "resumed"))
schedules_app.command(
    "remove", help="Delete a schedule and its firings (the audit log keeps their story)."
)(_change("remove", "removed"))


@schedules_app.command("tick")
def tick(
    project: ProjectOption = None,
    all_projects: Annotated[
        bool, typer.Option("--all", help="Every project's schedules, not one project's.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the pipeline runs started to end.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Fire what is due now, once: cron times passed and new events (as `relay server` does).

    Example: relay schedules tick --all   (from cron, where no relay server runs)
    """
    project_name = None if all_projects else project_or_default(project)
    with open_cli_backend() as backend:
        fired = backend.tick_schedules(project_name, wait=wait)
    if json_output:
        print_json(fired)
        return
    if not fired:
        console().print("Nothing was due.")
        return
    console().print(_firings_table(fired, "Fired"))


@contextmanager
def report_firing(project: str, firing_id: int) -> Iterator[Callable[[str], None]]:
    """Tell a schedule's firing about the run inside: its id, then finished or failed."""
    with open_cli_backend() as backend:

        def started(run_id: str) -> None:
            backend.update_firing(project, firing_id, "running", pipeline_run=run_id)

        try:
            yield started
        except BaseException as exc:
            if isinstance(exc, RelayError):
                error = exc.message
            elif isinstance(exc, typer.Exit | KeyboardInterrupt):
                error = f"the run was stopped ({type(exc).__name__})"
            else:
                error = f"{type(exc).__name__}: {exc}"
            backend.update_firing(project, firing_id, "failed", error=error)
            raise
        backend.update_firing(project, firing_id, "finished")
