"""relay projects kpi: change one KPI of a project (target, definition, unit...), keep the rest."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    open_cli_backend,
    print_json,
    project_or_default,
)

__all__ = ["kpi_app"]

kpi_app = typer.Typer(
    help="One KPI of a project: set its target, unit, direction, description or definition.",
    no_args_is_help=True,
)


def _definition(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise typer.BadParameter(
            f"{text!r} is not a JSON object; a definition looks like "
            '\'{"type": "confusion_value", "threshold": 0.5, "tp": 230, "fp": -40}\' '
            "(docs/models.md lists the kinds)."
        )
    return value


@kpi_app.command("set")
def kpi_set(
    name: Annotated[str, typer.Argument(help="The KPI's name (a new name adds a KPI).")],
    project: ProjectOption = None,
    target: Annotated[
        float | None, typer.Option(help="The value it should reach.", show_default=False)
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Its unit (EUR, %...).")] = None,
    direction: Annotated[
        str | None,
        typer.Option(help="'increase' or 'decrease': which way is better.", show_default=False),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it measures.")] = None,
    definition: Annotated[
        str | None,
        typer.Option(
            help="How it is computed, as a JSON object (docs/models.md).",
            show_default=False,
            callback=_definition,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change one KPI of a project (the options given; the other KPIs are kept), audited.

    Example: relay projects kpi set revenue_saved --target 20000 -p churn
    """
    if direction is not None and direction not in ("increase", "decrease"):
        raise typer.BadParameter(
            f"direction must be 'increase' or 'decrease', not {direction!r}.",
            param_hint="--direction",
        )
    changes: dict[str, Any] = {
        "target": target,
        "unit": unit,
        "direction": direction,
        "description": description,
        "definition": definition,  # already parsed by the callback
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        kpis = [k.model_dump() for k in backend.get_project(project_name).kpis]
        found = next((k for k in kpis if k["name"] == name), None)
        if found is None:
            kpis.append({"name": name, **changes})
        else:
            found.update(changes)
        updated = backend.update_project(project_name, kpis=kpis)
    if json_output:
        print_json(updated)
        return
    verb = "Added" if found is None else "Changed"
    console().print(f"{verb} KPI {name!r} of project {project_name!r}.")
