"""The ``relay`` command line: Typer commands over the same backend the SDK uses.

    relay demo [--fast]               the churn project's whole life cycle, narrated
    relay init NAME                   scaffold a project: relay.yaml, pipeline, tests, CI
    relay config                      the settings and where they came from
    relay db upgrade | current        schema migrations of the metadata database
    relay db backup | restore         one archive of the metadata and artifact stores
    relay projects list | show | create | add-member | members
    relay experiments list | show
    relay runs list | show | search | metrics
    relay artifacts list | download
    relay models list | show | versions | evaluations | compare
                 | promote | approve | reject | history | card show | card set
    relay features plan | apply | list | show | versions | check | promote | impact
    relay policy show | set           the project's promotion policy (relay.yaml)
    relay check model                 run a version's gates for CI (exit code, JUnit XML)
    relay audit [verify | checkpoint | checkpoints | export]   who changed what; the chain
    relay roles                       what each project role may do (the permission table)
    relay inventory [tier | retire]   every model ever in staging or production (risk view)
    relay report model | inventory    model risk reports from the store (HTML, Markdown, PDF)
    relay resources                   compute, storage, serving and bottlenecks of a project
    relay server                      the HTTP API
    relay serve                       a model server (V2 protocol, /predict, /metrics)
    relay deploy                      single, canary, A/B, shadow; results; promote-winner
    relay monitor drift | performance per window and variant, against the training data
    relay feedback flag | list | resolve   flags on predictions that look wrong
    relay alerts set | list | events | ack; relay monitor run (cron, exit code)
    relay decisions test | apply | show   business rules applied after the model
    relay explain                     why one prediction; --global: what drives a version
    relay predictions show | compact  one logged prediction; merge closed days' log files
    relay users add | list | show | disable | enable | admin | password   (administrators)
    relay tokens create | list | revoke   personal API tokens (RELAY_TOKEN); relay whoami
    relay import mlflow --from URI    experiments, runs, artifacts and models from MLflow

Expected errors (:class:`relayml.errors.RelayError`) print one ``Error: ...`` line to stderr and
exit with code 1; usage errors exit with 2, Ctrl-C with 130. Importing this package stays light:
it loads no command's module (:mod:`relayml.cli.catalog` says where each lives); the console
script imports the one it runs, and SQLAlchemy, httpx, FastAPI, numpy and pandas load only
inside the commands that use them. ``relayml.cli.app`` is the whole app, built on first use.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any

import typer

from relayml.cli.catalog import ENTRIES, Entry, entry_named

__all__ = ["app", "app_for", "main"]

_HELP = (
    "relayml: track, register, deploy and monitor models. "
    "Settings come from RELAY_* environment variables (see `relay config`)."
)


def _print_version(value: bool) -> None:
    if value:
        from relayml import __version__

        typer.echo(f"relay {__version__}")
        raise typer.Exit()


def _main(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """relayml: track, register, deploy and monitor models."""


def _root() -> typer.Typer:
    from relayml.cli._common import RelayGroup

    root = typer.Typer(
        name="relay",
        cls=RelayGroup,
        help=_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    root.callback()(_main)
    return root


_loaded: dict[str, Any] = {}


def _load(entry: Entry) -> Any:
    """The entry's Typer (a group) or function (a command): its modules imported, its setup
    run, once per process."""
    if entry.name not in _loaded:
        module, attribute = entry.target.split(":")
        target = getattr(importlib.import_module(f"relayml.cli.{module}"), attribute)
        for other in entry.also:
            importlib.import_module(f"relayml.cli.{other}")
        for hook in entry.setup:
            module, function = hook.split(":")
            getattr(importlib.import_module(f"relayml.cli.{module}"), function)(target)
        _loaded[entry.name] = target
    return _loaded[entry.name]


def _with(root: typer.Typer, entry: Entry) -> typer.Typer:
    target = _load(entry)
    if isinstance(target, typer.Typer):
        root.add_typer(target, name=entry.name)
    else:
        root.command(entry.name)(target)
    return root


@functools.cache
def _whole() -> typer.Typer:
    root = _root()
    for entry in ENTRIES:
        _with(root, entry)
    return root


def _not_loaded() -> None:
    """Stands for a command in the listing; the listing never runs one."""


@functools.cache
def _listing() -> typer.Typer:
    """The root as `relay --help` shows it: each command a stub with its name and help line."""
    root = _root()
    for entry in ENTRIES:
        root.command(entry.name, help=entry.help)(_not_loaded)
    return root


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return _whole()
    raise AttributeError(f"module 'relayml.cli' has no attribute {name!r}")


def main() -> None:
    """Run the ``relay`` command line (the console script)."""
    app_for(sys.argv[1:])(prog_name="relay")


def app_for(args: list[str]) -> typer.Typer:
    """The app for a command line: only the command that args name, its module alone imported.
    When args start with an option (-h, -V), or name no command, the listing of every command
    (from the catalog: no command's module imported), which answers -h, -V and a mistyped name
    (its error suggests the closest) as the whole app does."""
    entry = entry_named(args[0] if args else None)
    return _listing() if entry is None else _with(_root(), entry)
