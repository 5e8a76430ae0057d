"""`relay roles`: the permission table, printed (what each project role may do)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["roles"]


def roles(
    role: Annotated[
        str | None, typer.Option("--role", "-r", help="Only this role's actions.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="role -> actions as JSON.")] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The matrix as Markdown (as in docs/security.md).")
    ] = False,
) -> None:
    """What each role may do in a project (deny by default; the global admin may do all).

    Examples:
      relay roles                       the whole matrix
      relay roles --role risk_manager   one role's actions, with what each means
      relay roles --json                for scripts
    """
    from rich.console import Console
    from rich.table import Table

    from relayml.domain.permissions import ACTIONS, ALL_ROLES, GRANTS, matrix_markdown

    if role is not None and role not in GRANTS:
        typer.echo(f"Error: unknown role {role!r}; roles are {', '.join(ALL_ROLES)}.", err=True)
        raise typer.Exit(2)
    if as_json:
        chosen = [role] if role else list(ALL_ROLES)
        typer.echo(json.dumps({r: sorted(GRANTS[r]) for r in chosen}, indent=2))
        return
    if markdown:
        typer.echo(matrix_markdown())
        return
    console = Console()
    if role is not None:
        table = Table(title=f"{role} may", show_header=True)
        table.add_column("action")
        table.add_column("meaning")
        for action, meaning in ACTIONS.items():
            if action in GRANTS[role]:
                table.add_row(action, meaning)
        console.print(table)
        return
    table = Table(title="roles x actions (✓ = allowed; admin: everything)")
    table.add_column("action")
    for name in ALL_ROLES:
        table.add_column(name.replace("_", " "), justify="center")
    for action in ACTIONS:
        table.add_row(action, *("✓" if action in GRANTS[r] else "" for r in ALL_ROLES))
    console.print(table)
