"""`relay alerts` (rules and events) and `relay monitor run` (evaluate them now, exit code)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_number,
    format_time,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)
from relayml.cli.monitor import monitor_app

__all__ = ["alerts_app"]

alerts_app = typer.Typer(
    no_args_is_help=True,
    help="Alert rules on monitored figures (drift, accuracy, KPIs, latency, traffic) and the "
    "alerts they raised.\n\n"
    "Examples:\n\n"
    "relay alerts set alerts.yaml\n\n"
    "relay alerts events --all\n\n"
    "relay alerts ack 4\n\n"
    "relay monitor run   (cron: exit code 1 while an alert is active)",
)

_STYLE = {"fired": "bold red", "still firing": "red", "resolved": "green", "error": "yellow"}


@alerts_app.command("set")
def set_rules(
    path: Annotated[Path, typer.Argument(help="The alerts file (YAML): alerts: [rules].")],
    project: ProjectOption = None,
) -> None:
    """Make the project's rules those of the file (rules left out are disabled)."""
    from relayml.errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(
            f"{path} is not a file; write the rules in YAML (see relay alerts --help)."
        )
    with open_cli_backend() as backend:
        rules = backend.set_alert_rules(project_or_default(project), path.read_text())
    enabled = [r.name for r in rules if r.enabled]
    console().print(f"{len(enabled)} alert rule(s) active: {', '.join(enabled) or 'none'}.")


@alerts_app.command("list")
def list_rules(project: ProjectOption = None, json_output: JsonOption = False) -> None:
    """The project's alert rules."""
    with open_cli_backend() as backend:
        rules = backend.list_alert_rules(project_or_default(project))
    if json_output:
        print_json([r.model_dump(mode="json") for r in rules])
        return
    rows = []
    for rule in rules:
        spec = rule.spec
        above, below = spec.get("above"), spec.get("below")
        condition = f"> {above:g}" if above is not None else f"< {below:g}"
        rows.append([
            rule.name, f"{spec['model']}@{spec['env']}", f"{spec['figure']} {condition}",
            spec.get("window", "day"), rule.severity, "yes" if rule.enabled else "no",
            spec.get("webhook") or "", spec.get("retrain") or "",
        ])  # fmt: skip
    headers = ["rule", "deployment", "fires when", "window", "severity", "on", "webhook", "retrain"]
    console().print(table(headers, rows))


@alerts_app.command("events")
def events(
    all_events: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Alerts raised, newest first (open and acknowledged unless --all)."""
    with open_cli_backend() as backend:
        found = backend.list_alert_events(project_or_default(project), active_only=not all_events)
    if json_output:
        print_json([e.model_dump(mode="json") for e in found])
        return
    if not found:
        console().print("No alerts" + ("." if all_events else " active."))
        return
    rows = [
        [str(e.id), e.rule, e.severity, e.status, format_number(e.value),
         format_number(e.last_value), format_time(e.opened_at), e.message]
        for e in found
    ]  # fmt: skip
    headers = ["id", "rule", "severity", "status", "value", "latest", "opened", "message"]
    console().print(table(headers, rows))


@alerts_app.command("ack")
def ack(
    event_id: Annotated[int, typer.Argument(help="The alert's id (relay alerts events).")],
    project: ProjectOption = None,
) -> None:
    """Acknowledge an open alert (it still resolves by itself when the figure recovers)."""
    with open_cli_backend() as backend:
        event = backend.acknowledge_alert(project_or_default(project), event_id)
    console().print(f"Alert {event.id} ({event.rule}) acknowledged by {event.acknowledged_by}.")


@monitor_app.command("run")
def run(
    project: ProjectOption = None,
    at: Annotated[
        datetime | None,
        typer.Option(
            "--at",
            help="Evaluate as of this moment (ISO date or date-time, UTC): the windows that "
            "end then, for traffic replayed with `relay serve --replay`. Default: now.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Evaluate the alert rules now: fire, update or resolve alerts; exit 1 while one is active.

    Cron-friendly: `relay monitor run -p churn || page-someone`. `relay server` also runs this
    every RELAY_MONITOR_INTERVAL seconds. --at 2026-02-01 evaluates replayed weeks as they ended.
    """
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    with open_cli_backend() as backend:
        results = backend.run_monitors(project_or_default(project), at)
    if json_output:
        print_json(results)
    else:
        rows = [
            [r["rule"], r["severity"], r["condition"], format_number(r["value"]),
             Text(r["outcome"], style=_STYLE.get(r["outcome"], "")), r["detail"]]
            for r in results
        ]  # fmt: skip
        headers = ["rule", "severity", "fires when", "value", "outcome", "detail"]
        console().print(table(headers, rows))
    if any(r["outcome"] in ("fired", "still firing") for r in results):
        raise typer.Exit(1)
