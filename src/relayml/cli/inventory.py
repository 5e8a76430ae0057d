"""`relay inventory`: every model ever in staging or production; risk tiers; retirement."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)

__all__ = ["inventory_app"]

inventory_app = typer.Typer(
    invoke_without_command=True,
    help="The model inventory: every model ever in staging or production, retired ones kept, "
    "with status, owner, risk tier, last validation, next review, open alerts and flags, and "
    "which versions served for how long.\n\n"
    "Examples:\n\n"
    "relay inventory\n\n"
    "relay inventory --json\n\n"
    "relay inventory tier churn high --reason 'decides on customer offers'\n\n"
    "relay inventory retire churn --reason 'replaced by churn_v2'",
)

ModelArgument = Annotated[str, typer.Argument(help="The registered model, e.g. churn.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-m", help="Why (kept in the audit log).")]


def _day(value: Any) -> str:
    return f"{value:%Y-%m-%d}" if value else "-"


def _print(entries: list[Any]) -> None:
    rows = []
    for e in entries:
        envs = ", ".join(f"{k} v{v}" for k, v in sorted(e.environments.items())) or "-"
        review = _day(e.next_review_due) + (" OVERDUE" if e.review_overdue else "")
        served = "; ".join(
            f"{s.environment} v{s.version} {s.days:.1f} d" + ("" if s.until else " (now)")
            for s in e.served
        )
        rows.append([
            f"{e.project}/{e.model}", e.status, envs, e.owner or "-", e.risk_tier or "not set",
            _day(e.last_validation), review, str(e.open_alerts), str(e.open_flags), served,
        ])  # fmt: skip
    headers = ["model", "status", "environments", "owner", "risk tier", "validated",
               "next review", "alerts", "flags", "served"]  # fmt: skip
    console().print(table(headers, rows))
    if not entries:
        console().print("No model has been in staging or production yet.")


@inventory_app.callback()
def inventory(
    ctx: typer.Context,
    project: Annotated[
        list[str] | None,
        typer.Option("--project", "-p", help="Only this project (repeat for more). Default: all."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Every model ever in staging or production, in every project you may read."""
    if ctx.invoked_subcommand is not None:
        return
    with open_cli_backend() as backend:
        entries = backend.inventory(project or None)
    if json_output:
        print_json([e.model_dump(mode="json") for e in entries])
        return
    _print(entries)


@inventory_app.command("tier")
def tier(
    model: ModelArgument,
    level: Annotated[str, typer.Argument(help="The risk tier: high, medium or low.")],
    reason: ReasonOption,
    project: ProjectOption = None,
) -> None:
    """Set a model's risk tier, with the reason (audited)."""
    with open_cli_backend() as backend:
        entry = backend.set_risk_tier(project_or_default(project), model, level, reason)
    console().print(
        f"{entry.project}/{entry.model}: risk tier {entry.risk_tier}; next review due "
        f"{_day(entry.next_review_due)}."
    )


@inventory_app.command("retire")
def retire(model: ModelArgument, reason: ReasonOption, project: ProjectOption = None) -> None:
    """Retire a model: it leaves every environment now and stays in the inventory (audited)."""
    with open_cli_backend() as backend:
        entry = backend.retire_model(project_or_default(project), model, reason)
    console().print(f"{entry.project}/{entry.model} is retired; it stays in the inventory.")
