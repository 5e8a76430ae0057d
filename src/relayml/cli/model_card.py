"""`relay models card`: the intended use and limitations of a model version, with their history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_time,
    key_value_table,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)
from relayml.cli.models import RefArgument

if TYPE_CHECKING:
    from relayml.domain.reports import ModelCard

__all__ = ["card_app", "register"]

card_app = typer.Typer(
    no_args_is_help=True,
    help="A version's model card: what it is for and where it must not be used. Each change is "
    "audited; the model risk report shows the current text and who set it when.\n\n"
    "Examples:\n\n"
    "relay models card set churn/3 --intended-use 'Rank customers for retention offers.' "
    "--limitations 'Not for pricing or credit decisions.'\n\n"
    "relay models card show churn@production --history",
)


def _print(card: ModelCard, history: bool) -> None:
    out = console()
    now = card.current
    ref = f"{card.model}/{card.version}"
    if now is None:
        out.print(
            f"{ref} has no model card yet: set one with "
            f"relay models card set {ref} --intended-use '...' --limitations '...'."
        )
        return
    out.print(
        key_value_table(
            {
                "model": ref,
                "intended use": now.intended_use or "(not stated)",
                "limitations": now.limitations or "(not stated)",
                "set by": now.set_by,
                "set": format_time(now.set_at),
                "texts so far": str(len(card.history)),
            }
        )
    )
    if history:
        rows = (
            [format_time(t.set_at), t.set_by, t.intended_use or "-", t.limitations or "-"]
            for t in reversed(card.history)
        )
        out.print(table(["set", "by", "intended use", "limitations"], rows, title="History"))


@card_app.command("show")
def show(
    ref: RefArgument,
    history: Annotated[
        bool, typer.Option("--history", help="Also every earlier text, newest first.")
    ] = False,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a version's intended use and limitations, and who set them when."""
    with open_cli_backend() as backend:
        card = backend.get_model_card(project_or_default(project), ref)
    if json_output:
        print_json(card)
        return
    _print(card, history)


@card_app.command("set")
def set_card(
    ref: RefArgument,
    intended_use: Annotated[
        str | None,
        typer.Option("--intended-use", help="What the version is for, and for whom."),
    ] = None,
    limitations: Annotated[
        str | None,
        typer.Option(
            "--limitations", help="Where it must not be used; known weaknesses; assumptions."
        ),
    ] = None,
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set a version's intended use and/or limitations (a text not given is kept); audited."""
    with open_cli_backend() as backend:
        card = backend.set_model_card(
            project_or_default(project), ref, intended_use=intended_use, limitations=limitations
        )
    if json_output:
        print_json(card)
        return
    _print(card, history=False)


def register(app: typer.Typer) -> None:
    """Add the `card` group to a Typer group (the `relay models` group)."""
    app.add_typer(card_app, name="card")
