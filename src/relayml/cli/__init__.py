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
SQLAlchemy, httpx, FastAPI, uvicorn, numpy and pandas load only inside the commands that use them.
"""

from __future__ import annotations

import copy
import sys

import typer

import relayml.cli.backup  # adds backup and restore to db
import relayml.cli.promotions  # noqa: F401  (adds promote, approve, reject, history to models)
from relayml.cli import features_online as _features_online  # noqa: F401 (its commands)
from relayml.cli._common import RelayGroup
from relayml.cli.admin import config, db_app, server
from relayml.cli.alerts import alerts_app  # also adds `run` to monitor
from relayml.cli.artifacts import artifacts_app
from relayml.cli.audit import audit_app
from relayml.cli.bundle import register as register_bundle
from relayml.cli.data import data_app, datasets_app
from relayml.cli.decisions import decisions_app
from relayml.cli.demo import demo
from relayml.cli.deploy import deploy_app
from relayml.cli.explain import explain
from relayml.cli.features import features_app
from relayml.cli.feedback import feedback_app
from relayml.cli.imports import import_app
from relayml.cli.init import init
from relayml.cli.inventory import inventory_app
from relayml.cli.lineage import lineage
from relayml.cli.model_card import register as register_card
from relayml.cli.models import models_app
from relayml.cli.monitor import monitor_app
from relayml.cli.pipelines import pipelines_app
from relayml.cli.policy import check_app, policy_app
from relayml.cli.predictions import predictions_app
from relayml.cli.projects import experiments_app, projects_app
from relayml.cli.report import report_app
from relayml.cli.resources import resources
from relayml.cli.roles import roles
from relayml.cli.runs import runs_app
from relayml.cli.schedules import schedules_app
from relayml.cli.serve import serve
from relayml.cli.tokens import tokens_app
from relayml.cli.users import users_app, whoami

__all__ = ["app", "app_for", "main"]

app = typer.Typer(
    name="relay",
    cls=RelayGroup,
    help="relayml: track, register, deploy and monitor models. "
    "Settings come from RELAY_* environment variables (see `relay config`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from relayml import __version__

        typer.echo(f"relay {__version__}")
        raise typer.Exit()


@app.callback()
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


app.command("init")(init)
app.command("demo")(demo)
app.command("config")(config)
app.add_typer(db_app, name="db")
app.add_typer(projects_app, name="projects")
app.add_typer(experiments_app, name="experiments")
app.add_typer(runs_app, name="runs")
app.add_typer(artifacts_app, name="artifacts")
app.add_typer(datasets_app, name="datasets")
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
register_bundle(models_app)
register_card(models_app)
app.add_typer(policy_app, name="policy")
app.add_typer(check_app, name="check")
app.command("lineage")(lineage)
app.add_typer(pipelines_app, name="pipelines")
app.add_typer(schedules_app, name="schedules")
app.add_typer(audit_app, name="audit")
app.command("server")(server)
app.command("serve")(serve)
app.add_typer(deploy_app, name="deploy")
app.add_typer(monitor_app, name="monitor")
app.add_typer(feedback_app, name="feedback")
app.add_typer(alerts_app, name="alerts")
app.add_typer(decisions_app, name="decisions")
app.command("explain")(explain)
app.add_typer(predictions_app, name="predictions")
app.command("roles")(roles)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.command("whoami")(whoami)
app.add_typer(inventory_app, name="inventory")
app.add_typer(report_app, name="report")
app.command("resources")(resources)
app.add_typer(import_app, name="import")


def main() -> None:
    """Run the ``relay`` command line (the console script)."""
    app_for(sys.argv[1:])(prog_name="relay")


def app_for(args: list[str]) -> typer.Typer:
    """The app with only the command that args name: Typer builds the parser of every command
    it holds at each start (tens of ms for all of them). The whole app when args start with an
    option (-h, -V) or with a name that is not a command (so the error can suggest one)."""
    name = args[0] if args else None
    groups = [info for info in app.registered_groups if info.name == name]
    commands = [info for info in app.registered_commands if info.name == name]
    if len(groups) + len(commands) != 1:
        return app
    only = copy.copy(app)
    only.registered_groups, only.registered_commands = groups, commands
    return only
