"""Commands for a project's experiments: list, show (with its newest runs), delete, restore."""

from __future__ import annotations

from typing import Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_time,
    key_value_table,
    open_cli_tracking,
    print_json,
    project_or_default,
    table,
    truncate,
)

__all__ = ["experiments_app"]

experiments_app = typer.Typer(
    help="Experiments: named groups of runs in a project.", no_args_is_help=True
)


@experiments_app.command("list")
def experiments_list(
    project: ProjectOption = None,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted ones.")] = False,
    json_output: JsonOption = False,
) -> None:
    """List the experiments of a project.

    Example: relay experiments list -p churn
    """
    name = project_or_default(project)
    with open_cli_tracking() as backend:
        experiments = backend.list_experiments(name, include_deleted=deleted)
    if json_output:
        print_json(experiments)
        return
    console().print(
        table(
            ["name", "description", "created", *(["deleted"] if deleted else [])],
            (
                [e.name, truncate(e.description), format_time(e.created_at)]
                + ([format_time(e.deleted_at)] if deleted else [])
                for e in experiments
            ),
            title=f"Experiments of project {name}",
        )
    )
    if not experiments:
        console().print(f"Project {name!r} has no experiments yet.")


@experiments_app.command("show")
def experiments_show(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one experiment and its ten newest runs.

    Example: relay experiments show baseline -p churn
    """
    from relayml.cli.runs import run_rows

    project_name = project_or_default(project)
    with open_cli_tracking() as backend:
        experiment = backend.get_experiment(project_name, name)
        recent = backend.search_runs(
            project_name, experiments=[name], order_by=["start_time DESC"], max_results=10
        ).runs
    if json_output:
        print_json({**experiment.model_dump(mode="json"), "recent_runs": recent})
        return
    out = console()
    out.print(
        key_value_table(
            {
                "experiment": experiment.name,
                "project": experiment.project,
                "description": experiment.description,
                "created": format_time(experiment.created_at),
            }
        )
    )
    columns, rows = run_rows(recent)
    out.print(table(columns, rows, title="Newest runs"))


ExperimentArgument = Annotated[str, typer.Argument(help="Experiment name.")]


@experiments_app.command("delete")
def experiments_delete(
    name: ExperimentArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Delete an experiment: it and its runs are hidden and take no new runs; restorable.

    Example: relay experiments delete baseline -p churn
    """
    _delete_or_restore(name, project, json_output, delete=True)


@experiments_app.command("restore")
def experiments_restore(
    name: ExperimentArgument, project: ProjectOption = None, json_output: JsonOption = False
) -> None:
    """Restore a deleted experiment with its runs (runs deleted one by one stay deleted).

    Example: relay experiments restore baseline -p churn
    """
    _delete_or_restore(name, project, json_output, delete=False)


def _delete_or_restore(name: str, project: str | None, json_output: bool, *, delete: bool) -> None:
    project_name = project_or_default(project)
    with open_cli_tracking() as backend:
        if delete:
            experiment = backend.delete_experiment(project_name, name)
        else:
            experiment = backend.restore_experiment(project_name, name)
    if json_output:
        print_json(experiment)
    elif delete:
        console().print(
            f"Deleted experiment {name!r} of project {project_name!r} (its runs are hidden too). "
            f"Bring it back with `relay experiments restore {name} -p {project_name}`."
        )
    else:
        console().print(f"Restored experiment {name!r} of project {project_name!r}.")
