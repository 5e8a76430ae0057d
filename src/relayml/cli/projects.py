"""Commands for projects: business question, owner, KPIs, members (experiments: experiments.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    console,
    current_project,
    format_number,
    format_time,
    key_value_table,
    open_cli_backend,
    open_cli_tracking,
    print_json,
    project_file,
    project_or_default,
    table,
    truncate,
)
from relayml.cli.project_kpis import kpi_app
from relayml.domain.roles import ROLES as MEMBER_ROLES

if TYPE_CHECKING:
    from relayml.domain.entities import KPI

__all__ = ["MEMBER_ROLES", "parse_kpi", "projects_app"]

projects_app = typer.Typer(
    help="Projects: the business question, its owner and the KPIs it is judged by.",
    no_args_is_help=True,
)
projects_app.add_typer(kpi_app, name="kpi")

KPI_FORM = "name:unit:direction:target"
# The roles of relayml.projects.members.ROLES, repeated for help text without loading SQLAlchemy
# (a test checks that the two lists agree).

_KPI_EXAMPLE = "churn_rate:%:decrease:5"


def parse_kpi(text: str) -> KPI:
    """A KPI from 'name:unit:direction:target' (unit, direction and target may be left out)."""
    from pydantic import ValidationError

    from relayml.domain.entities import KPI

    parts = text.split(":")
    if len(parts) > 4 or not parts[0].strip():
        raise typer.BadParameter(
            f"{text!r} is not a KPI; expected {KPI_FORM!r}, e.g. {_KPI_EXAMPLE!r} "
            "(unit, direction and target may be left out)."
        )
    name, unit, direction, target = [*parts, "", "", ""][:4]
    direction = direction.strip().lower() or "increase"
    if direction not in ("increase", "decrease"):
        raise typer.BadParameter(
            f"{text!r}: direction must be 'increase' or 'decrease', not {direction!r} "
            f"(expected {KPI_FORM!r}, e.g. {_KPI_EXAMPLE!r})."
        )
    try:
        value = float(target) if target.strip() else None
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: target must be a number, not {target!r} "
            f"(expected {KPI_FORM!r}, e.g. {_KPI_EXAMPLE!r})."
        ) from None
    try:
        return KPI(name=name.strip(), unit=unit.strip(), direction=direction, target=value)
    except ValidationError as exc:
        raise typer.BadParameter(f"{text!r} is not a KPI ({exc.errors()[0]['msg']}).") from None


def _check_kpis(values: list[str] | None) -> list[str] | None:
    for item in values or ():
        parse_kpi(item)
    return values


def _kpi_table(kpis: list[KPI]) -> object:
    return table(
        ["KPI", "unit", "direction", "target", "description"],
        (
            [k.name, k.unit, k.direction, format_number(k.target), truncate(k.description)]
            for k in kpis
        ),
        title="KPIs",
    )


@projects_app.command("list")
def projects_list(json_output: JsonOption = False) -> None:
    """List every project with its owner and business question.

    Example: relay projects list --json
    """
    with open_cli_tracking() as backend:
        projects = backend.list_projects()
    if json_output:
        print_json(projects)
        return
    console().print(
        table(
            ["name", "owner", "business question", "KPIs", "created"],
            (
                [
                    p.name,
                    p.owner,
                    truncate(p.business_question),
                    str(len(p.kpis)),
                    format_time(p.created_at),
                ]
                for p in projects
            ),
        )
    )
    if not projects:
        console().print("No projects yet. Create one with `relay projects create NAME`.")


@projects_app.command("show")
def projects_show(
    name: Annotated[
        str | None,
        typer.Argument(help="Project name. Default: the current project.", show_default=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show one project: description, business question, owner and KPIs.

    Example: relay projects show churn
    """
    name = project_or_default(name)
    with open_cli_tracking() as backend:
        project = backend.get_project(name)
    if json_output:
        print_json(project)
        return
    out = console()
    out.print(
        key_value_table(
            {
                "project": project.name,
                "owner": project.owner,
                "business question": project.business_question,
                "description": project.description,
                "created": format_time(project.created_at),
            }
        )
    )
    if project.kpis:
        out.print(_kpi_table(project.kpis))


@projects_app.command("create")
def projects_create(
    name: Annotated[str, typer.Argument(help="Project name (letters, digits, - _ .).")],
    description: Annotated[str, typer.Option(help="What the project is about.")] = "",
    question: Annotated[
        str, typer.Option("--question", "-q", help="The business question it answers.")
    ] = "",
    owner: Annotated[
        str | None, typer.Option(help="Who owns it. Default: you (the `user` setting).")
    ] = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option(
            "--kpi",
            help=f"A KPI as '{KPI_FORM}' (repeatable), e.g. '{_KPI_EXAMPLE}'.",
            show_default=False,
            callback=_check_kpis,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create a project with its business question, owner and KPIs.

    Example: relay projects create churn -q "Who will leave?" --kpi churn_rate:%:decrease:5
    """
    kpis = [parse_kpi(item) for item in kpi or ()]
    with open_cli_tracking() as backend:
        project = backend.create_project(
            name, description=description, business_question=question, owner=owner, kpis=kpis
        )
    if json_output:
        print_json(project)
        return
    console().print(f"Created project {project.name!r} (owner {project.owner}).")


@projects_app.command("update")
def projects_update(
    name: Annotated[str, typer.Argument(help="Project name.")],
    description: Annotated[
        str | None, typer.Option(help="What the project is about.", show_default=False)
    ] = None,
    question: Annotated[
        str | None,
        typer.Option("--question", "-q", help="The business question.", show_default=False),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Who owns it.", show_default=False)] = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option(
            "--kpi",
            help=f"Replace all KPIs by these, as '{KPI_FORM}' (repeatable); to change one KPI "
            "and keep the rest: relay projects kpi set.",
            show_default=False,
            callback=_check_kpis,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Change a project's description, business question, owner or KPIs (audited).

    Example: relay projects update churn -q "Who will leave next month?"
    """
    kpis = [parse_kpi(item) for item in kpi] if kpi else None
    with open_cli_tracking() as backend:
        project = backend.update_project(
            name, description=description, business_question=question, owner=owner, kpis=kpis
        )
    if json_output:
        print_json(project)
        return
    console().print(f"Updated project {project.name!r}.")


@projects_app.command("use")
def projects_use(
    name: Annotated[str, typer.Argument(help="Project name.")],
) -> None:
    """Make a project this folder's current one: commands without -p then work on it.

    The choice is kept in $RELAY_HOME/project; RELAY_PROJECT and -p still win over it.
    Example: relay projects use churn
    """
    with open_cli_tracking() as backend:
        project = backend.get_project(name)
    path = project_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(project.name + "\n", encoding="utf-8")
    console().print(f"Current project: {project.name} (kept in {path}).")


@projects_app.command("current")
def projects_current() -> None:
    """Print the project commands work on when none is named, and why.

    Example: relay projects current
    """
    name, reason = current_project()
    console().print(f"{name} ({reason})")


@projects_app.command("add-member")
def projects_add_member(
    project: Annotated[str, typer.Argument(help="Project name.")],
    user: Annotated[str, typer.Argument(help="User name, as in their RELAY_USER setting.")],
    role: Annotated[str, typer.Argument(help=f"Role: one of {', '.join(MEMBER_ROLES)}.")],
) -> None:
    """Give a user a role in a project (a user may hold several); roles decide who may approve.

    Example: relay projects add-member churn rita risk_manager
    """
    with open_cli_backend() as backend:
        backend.add_member(project, user, role)
    console().print(f"{user} is {role} in project {project}.")


@projects_app.command("members")
def projects_members(
    project: Annotated[str, typer.Argument(help="Project name.")], json_output: JsonOption = False
) -> None:
    """List the members of a project and their roles.

    Example: relay projects members churn --json
    """
    with open_cli_backend() as backend:
        members = backend.list_members(project)
    if json_output:
        print_json(members)
        return
    title = f"Members of project {project}"
    listing = table(
        ["user", "roles"],
        ([user, ", ".join(roles)] for user, roles in members.items()),
        title=title,
    )
    listing.min_width = len(title)  # keep the title on one line above a narrow table
    console().print(listing)
    if not members:
        console().print(
            f"Project {project!r} has no members yet. "
            f"Add one with `relay projects add-member {project} USER ROLE`."
        )
