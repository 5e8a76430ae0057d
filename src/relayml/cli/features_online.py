"""Commands of the online feature store: `relay features materialize | online`."""

from __future__ import annotations

from typing import Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_time,
    open_cli_backend,
    print_json,
    project_or_default,
    table,
)
from relayml.cli.features import SetArgument, features_app

__all__ = ["features_materialize", "features_online"]

EnvOption = Annotated[
    str, typer.Option("--env", help="development, staging or production: whose version.")
]


@features_app.command("materialize")
def features_materialize(
    name: SetArgument,
    env: EnvOption = "production",
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write the latest value per entity to the online table (only newer rows; one transaction).

    Example: relay features materialize customer --env staging -p churn
    """
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        done = backend.materialize_feature_set(project_name, name, env)
    if json_output:
        print_json(done)
        return
    how = "rewrote" if done.full else "updated"
    latest = format_time(done.latest_event_time) if done.latest_event_time else "none"
    console().print(
        f"{how} {done.written} entities of {done.feature_set}@{done.version} in {env} "
        f"({done.entities} online; latest event {latest})."
    )


@features_app.command("online")
def features_online(
    name: SetArgument,
    keys: Annotated[list[str], typer.Argument(help="Entity keys (join key values, '|'-joined).")],
    env: EnvOption = "production",
    project: ProjectOption = None,
    json_output: JsonOption = False,
) -> None:
    """Look entities' online values up; a value past its TTL is missing, with the reason.

    Example: relay features online customer 1 2 --env staging -p churn
    """
    project_name = project_or_default(project)
    with open_cli_backend() as backend:
        found = backend.online_features(project_name, name, keys, environment=env)
    if json_output:
        print_json(found)
        return
    names = list(found.rows[0].values) if found.rows else []
    rows = [
        [r.key, *("" if r.values[n] is None else str(r.values[n]) for n in names),
         format_time(r.event_time) if r.event_time else "",
         "; ".join(sorted(set(r.missing.values())))]
        for r in found.rows
    ]  # fmt: skip
    title = f"{found.feature_set}@{found.version} online in {env}"
    console().print(table(["key", *names, "event time", "missing"], rows, title=title))
