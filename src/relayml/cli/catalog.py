"""Every top-level `relay` command: where its code lives and the line `relay --help` shows for it.

The console script imports only the module of the command it runs (a CLI module pulls in its
helpers, and Typer builds the parser of every command it holds at each start): `relay runs list`
loads the runs commands alone, and `relay --help` lists this table without importing any of them.
A test compares the listing with the one the real commands give, so a help text changed in a
command's module and not here fails the build.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENTRIES", "Entry", "entry_named"]


@dataclass(frozen=True)
class Entry:
    """One top-level command or group.

    ``target`` is ``module:attribute`` under ``relayml.cli`` (a ``typer.Typer`` for a group, a
    function for a command); ``also`` names modules that add commands to it when imported;
    ``setup`` names ``module:function``s called once with the group to add theirs.
    """

    name: str
    target: str
    help: str  # the first paragraph of its help, as `relay --help` lists it
    also: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "init",
        "init:init",
        "Scaffold a project: relay.yaml, a pipeline package, tests, Makefile, pre-commit and CI.",
    ),
    Entry(
        "demo",
        "demo:demo",
        "Run the whole story of a churn model, from business question to retrained winner.",
    ),
    Entry(
        "config",
        "admin:config",
        "Show every setting: its environment variable, value, where it came from, and help.",
    ),
    Entry(
        "db",
        "admin:db_app",
        "Migrate and inspect the metadata database (RELAY_DATABASE_URL).",
        also=("backup",),
    ),
    Entry(
        "projects",
        "projects:projects_app",
        "Projects: the business question, its owner and the KPIs it is judged by.",
    ),
    Entry(
        "experiments",
        "experiments:experiments_app",
        "Experiments: named groups of runs in a project.",
    ),
    Entry(
        "runs",
        "runs:runs_app",
        "Runs: executions of training code with their params, metrics, tags and artifacts.",
    ),
    Entry(
        "artifacts",
        "artifacts:artifacts_app",
        "Artifacts: the files stored with a run (verified by sha256).",
    ),
    Entry(
        "datasets",
        "data:datasets_app",
        (
            "Datasets: immutable versions identified by their content, with schema and "
            "profile. A version is named customers@3, customers@latest, or customers (the "
            "latest)."
        ),
    ),
    Entry(
        "data",
        "data:data_app",
        "Data checks: declarative rules on a dataset version; the exit code tells CI.",
    ),
    Entry(
        "features",
        "features:features_app",
        (
            "The feature store: entities and feature sets declared in Python, versioned, "
            "checked, promoted through environments, and joined point in time into training "
            "frames."
        ),
        also=("features_online",),
    ),
    Entry(
        "models",
        "models:models_app",
        (
            "Models: registered versions, their evaluations, environments and promotions. A "
            "version is named churn/3, churn@production (the version in an environment), or "
            "churn (the latest)."
        ),
        also=("promotions",),
        setup=("bundle:register", "model_card:register"),
    ),
    Entry(
        "policy",
        "policy:policy_app",
        (
            "The project's promotion policy (relay.yaml): the checks and approvals each "
            "environment demands before a version moves in."
        ),
    ),
    Entry(
        "check",
        "policy:check_app",
        "Run quality gates without changing anything; the exit code tells CI the outcome.",
    ),
    Entry(
        "lineage",
        "lineage:lineage",
        "What an entity came from (upstream) and what came of it (downstream), as a tree.",
    ),
    Entry(
        "pipelines",
        "pipelines:pipelines_app",
        (
            "Pipelines: steps marked @relay.step in a @relay.pipeline, cached and recorded; "
            "run them locally or on a Dask cluster."
        ),
    ),
    Entry(
        "schedules",
        "schedules:schedules_app",
        (
            "Schedules: run a pipeline on a cron time (UTC) or when a dataset gets a new "
            "version, an alert fires or a model is promoted. `relay server` fires them; each "
            "firing is recorded with the pipeline run it started."
        ),
    ),
    Entry(
        "audit",
        "audit:audit_app",
        (
            "The audit log, newest first: who changed what, and when; and its tamper-evident "
            "hash chain (verify, checkpoint, export)."
        ),
    ),
    Entry(
        "server",
        "admin:server",
        "Serve the relayml HTTP API (and /healthz) on the configured store, until Ctrl-C.",
    ),
    Entry(
        "serve",
        "serve:serve",
        "Serve models over HTTP: Open Inference Protocol V2, POST /predict, /metrics.",
    ),
    Entry(
        "deploy",
        "deploy:deploy_app",
        (
            "What an environment serves: one version, a canary, an A/B test or a shadow. A "
            "running `relay serve churn@production` picks every change up without a restart."
        ),
    ),
    Entry(
        "monitor",
        "monitor:monitor_app",
        (
            "How deployed models do: drift of inputs and predictions against the training "
            "data, and performance once outcomes arrive (estimated before)."
        ),
        also=("alerts",),
    ),
    Entry(
        "feedback",
        "feedback:feedback_app",
        "Subject-matter experts flag predictions that look wrong; data scientists review them.",
    ),
    Entry(
        "alerts",
        "alerts:alerts_app",
        (
            "Alert rules on monitored figures (drift, accuracy, KPIs, latency, traffic) and "
            "the alerts they raised."
        ),
    ),
    Entry(
        "decisions",
        "decisions:decisions_app",
        (
            "Decision tables: ordered rules that turn a model's score and a customer's fields"
            " into an action (call, email, ...). The model server applies the newest table "
            "after the model and returns the decision with the prediction."
        ),
    ),
    Entry(
        "explain",
        "explain:explain",
        "Why did the model decide this? Each input's push up or down, largest first.",
    ),
    Entry(
        "predictions",
        "predictions:predictions_app",
        "The model server's prediction log.",
    ),
    Entry(
        "roles",
        "roles:roles",
        "What each role may do in a project (deny by default; the global admin may do all).",
    ),
    Entry(
        "users",
        "users:users_app",
        (
            "Users: who may sign in, their e-mail, the administrator role and passwords "
            "(administrators). Tokens: `relay tokens`; project roles: `relay projects add-"
            "member`."
        ),
    ),
    Entry(
        "tokens",
        "tokens:tokens_app",
        (
            "Personal API tokens: what the CLI and SDK send to a relay server (RELAY_TOKEN). "
            "Only a token's hash is stored; its secret is shown once, when it is created."
        ),
    ),
    Entry(
        "whoami",
        "users:whoami",
        "Show who you are to relayml: your user, how you signed in, your roles in each project.",
    ),
    Entry(
        "inventory",
        "inventory:inventory_app",
        (
            "The model inventory: every model ever in staging or production, retired ones "
            "kept, with status, owner, risk tier, last validation, next review, open alerts "
            "and flags, and which versions served for how long."
        ),
    ),
    Entry(
        "report",
        "report:report_app",
        (
            "Reports generated from the store, never written by hand: a model risk report (SR"
            " 11-7, EU AI Act Annex IV) of one version, and the model inventory."
        ),
    ),
    Entry(
        "resources",
        "resources:resources",
        "What a project's runs, pipelines, storage and deployments use, and its bottlenecks.",
    ),
    Entry(
        "import",
        "imports:import_app",
        "Import from other platforms: MLflow tracking stores and model registries.",
    ),
)

_BY_NAME = {entry.name: entry for entry in ENTRIES}


def entry_named(name: str | None) -> Entry | None:
    """The entry of a top-level command name, or None (an option, or no such command)."""
    return _BY_NAME.get(name) if name else None
