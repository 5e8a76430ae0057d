"""Commands of the online feature store and the join's cache: `relay features materialize |
online | cache`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from relayml.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    format_bytes,
    format_time,
    open_cli_backend,
    print_json,
    project_or_default,
    settings,
    table,
)
from relayml.cli.features import SetArgument, features_app
from relayml.errors import InvalidInput

__all__ = ["features_cache", "features_materialize", "features_online"]

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


@features_app.command("cache")
def features_cache(
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Remove folders of an older layout and writers' leftovers (and, with "
            "--unused-days, idle folders).",
        ),
    ] = False,
    unused_days: Annotated[
        float | None,
        typer.Option(
            "--unused-days", min=0, help="With --prune: also folders no join read for N days."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --prune: say what would go, remove nothing.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show (or prune) this machine's cache of point-in-time joins ($RELAY_HOME/cache/features).

    Each folder is a dataset version prepared for a feature set's joins.

    Removing any of it is safe: the next join of that version prepares it again.

    Examples: relay features cache; relay features cache --prune --unused-days 30 --dry-run
    """
    from relayml.features.cache_admin import cache_entries, cache_root, prune_cache

    if not prune and (unused_days is not None or dry_run):
        raise InvalidInput("--unused-days and --dry-run go with --prune: add --prune.")
    root = cache_root(settings().home)
    entries = prune_cache(root, unused_days, dry_run=dry_run) if prune else cache_entries(root)
    if json_output:
        print_json([{**asdict(e), "idle_days": round(e.idle_days, 2)} for e in entries])
        return
    total = format_bytes(sum(e.bytes for e in entries))
    if prune:
        verb = "would remove" if dry_run else "removed"
        console().print(f"{verb} {len(entries)} folder(s), {total}, from {root}.")
        return
    if not entries:
        console().print(
            f"the cache at {root} is empty: the first join of a dataset version fills it."
        )
        return
    rows = [
        [e.name[:16], e.state, format_bytes(e.bytes), format_time(int(e.last_used * 1000)),
         f"{e.idle_days:.1f}"]
        for e in entries
    ]  # fmt: skip
    title = f"{len(entries)} folder(s), {total}, in {root}"
    console().print(table(["folder", "state", "size", "last read", "idle days"], rows, title=title))
