"""Every setting of relayml, declared once: name, default and help.

Settings come from environment variables prefixed ``RELAY_`` (``RELAY_HOME``...), then from
keyword overrides given to :func:`relayml.init`. ``relay config`` shows them with their source.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "SECRET_SETTINGS",
    "Settings",
    "get_settings",
    "library_variable",
    "redact_url",
    "set_library_variable",
    "settings_inputs",
]


# Settings whose values are secrets: `relay config` shows *** for them.
SECRET_SETTINGS = frozenset({"token", "bootstrap_token", "openlineage_api_key"})


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "anonymous"


class Settings(BaseSettings):
    """The settings of one relayml process."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path(".relay"),
        description="Folder for the embedded store: the SQLite file and the local artifacts.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store. Default: sqlite:///$RELAY_HOME/relay.db "
        "(WAL mode, migrates itself). For PostgreSQL: postgresql+psycopg://user@host/db, "
        "then run `relay db upgrade`.",
    )
    artifacts_url: str | None = Field(
        default=None,
        description="fsspec URL where artifact blobs live. Default: $RELAY_HOME/artifacts. "
        "S3 or any S3-compatible store: s3://bucket/prefix (pip install 'relayml[s3]').",
    )
    artifacts_options: dict[str, Any] = Field(
        default_factory=dict,
        description='JSON object of fsspec storage options, e.g. {"endpoint_url": '
        '"http://minio:9000"} for an S3-compatible store.',
    )
    server_url: str | None = Field(
        default=None,
        description="URL of a `relay server`. When set, the SDK and CLI talk to it over HTTP "
        "instead of opening the store in-process.",
    )
    token: str | None = Field(
        default=None,
        description="Personal API token sent to the server as a bearer token. Unset: the local "
        "single user is the administrator.",
    )
    auth: bool = Field(
        default=True,
        description="Whether `relay server` requires a signed-in user on every route but /healthz, "
        "readiness and sign-in. `relay server --no-auth` turns it off, on loopback only.",
    )
    bootstrap_token: str | None = Field(
        default=None,
        description="For automation: the first administrator's API token (relay_ and 32+ "
        "characters), stored hashed when `relay server` starts on a store without users. Unset: "
        "the server prints a new one-time token once.",
    )
    user: str = Field(
        default_factory=_default_user,
        description="Who is acting: recorded as the author of runs and in the audit log. "
        "Default: the operating-system user.",
    )
    project: str = Field(
        default="default",
        description="Project used when a command or SDK call names none.",
    )
    executor: str = Field(
        default="local",
        description="Where pipelines run: 'local', or 'dask://host:port' for a Dask cluster.",
    )
    metric_flush_interval: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between background flushes of buffered metric points (the most a "
        "crash of the logging process can lose).",
    )
    metric_batch_size: int = Field(
        default=5000,
        ge=1,
        description="Buffered metric points that trigger an immediate background flush.",
    )
    openlineage_url: str | None = Field(
        default=None,
        description="Base URL of an OpenLineage receiver (e.g. Marquez, http://marquez:5000). "
        "When set, every relay pipeline run sends START and COMPLETE/FAIL RunEvents to "
        "<url>/api/v1/lineage.",
    )
    openlineage_api_key: str | None = Field(
        default=None,
        description="Bearer token sent to the OpenLineage receiver (for a relay server: an API "
        "token of a user who may write lineage). Unset: none is sent.",
    )
    http_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds the HTTP client waits for the server before giving up.",
    )
    api_max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest JSON body (POST, PATCH) `relay server` accepts; larger ones get 413 "
        "before they are parsed. Artifact uploads (PUT) are streamed with their own limit.",
    )

    prediction_flush_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between writes of the model server's prediction and outcome logs "
        "to Parquet (the most a SIGKILL of the server can lose).",
    )
    prediction_log_max_rows: int = Field(
        default=500_000,
        ge=1000,
        description="Rows the prediction log may hold in memory while its writes fall behind; "
        "beyond that new rows are dropped and counted (relay_log_rows_dropped in /metrics).",
    )
    serve_max_batch_rows: int = Field(
        default=256,
        ge=1,
        description="Most rows the model server predicts in one batch (adaptive micro-batching).",
    )
    serve_max_wait_ms: float = Field(
        default=0.0,
        ge=0,
        description="Milliseconds a batch may wait for more requests; 0 batches only what arrived "
        "while the model was busy (no added latency at low load).",
    )
    serve_max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest request body the model server accepts; larger ones get 413.",
    )
    serve_cors_origins: str = Field(
        default="",
        description="Web origins allowed to call the model server from a browser (CORS), "
        "comma-separated, e.g. https://app.example.com; * for any. Empty: CORS is off.",
    )
    serve_auth: bool = Field(
        default=False,
        description="The model server requires a personal API token (scope predict or api) on "
        "every route but health, readiness and /metrics, checked against the store's users; "
        "outcomes also need the outcomes.write role. `relay serve --auth` sets it too.",
    )
    serve_auth_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Seconds the model server trusts a token that passed before it looks it up "
        "again (0 to 1; 0: every request): a revoked token fails at most this much later.",
    )
    serve_reload_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the model server's checks for a changed deployment or alias.",
    )

    feature_cache: bool = Field(
        default=True,
        description="Keep each dataset version a feature set reads prepared for point-in-time "
        "joins (sorted, memory-mapped) under $RELAY_HOME/cache/features: the first join of a "
        "version pays for writing it, later ones skip reading and sorting the source. Its disk "
        "use is about the size of the sources; deleting the folder is safe. false: prepare in "
        "memory at every join.",
    )

    mlflow_project: str = Field(
        default="mlflow",
        description="Project that experiments and registered models created through the MLflow "
        "API go to, unless they carry a `relay.project` tag (docs/mlflow.md).",
    )
    monitor_interval: float = Field(
        default=300.0,
        ge=0,
        description="Seconds between evaluations of every project's alert rules by `relay server` "
        "(0: never; `relay monitor run` evaluates them on demand).",
    )
    schedule_interval: float = Field(
        default=30.0,
        ge=0,
        description="Seconds between ticks of the pipeline schedules by `relay server`: due cron "
        "times and new events start their pipelines (0: never; `relay schedules tick` ticks on "
        "demand).",
    )

    session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the web pages' session cookies (any long random text). "
        "Unset: one is generated once and kept in $RELAY_HOME/session.key (mode 0600), which "
        "every worker on this machine shares; set it when server processes run on several "
        "machines. Changing it signs everyone out.",
    )
    session_max_age: int = Field(
        default=12 * 3600,
        ge=60,
        description="Seconds a web session (password or single sign-on) lasts before the user "
        "signs in again.",
    )
    signin_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed password sign-ins allowed per user name and per client address "
        "within signin_window seconds; more get 429 with Retry-After (each server process "
        "counts alone).",
    )
    signin_window: float = Field(
        default=60.0,
        gt=0,
        description="Seconds over which failed sign-ins are counted (see signin_max_failures).",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="Single sign-on: the OpenID Connect provider's issuer URL (its "
        "/.well-known/openid-configuration is read from there), e.g. "
        "https://login.example.com/realms/ml. Unset: single sign-on is off.",
    )
    oidc_client_id: str | None = Field(
        default=None,
        description="Single sign-on: the client id relayml is registered with at the provider.",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="Single sign-on: the client secret from the provider (never shown).",
    )
    oidc_scopes: str = Field(
        default="openid email profile",
        description="Single sign-on: the scopes asked for, space-separated (add the one your "
        "provider needs for the groups claim, e.g. 'groups').",
    )
    oidc_groups_claim: str = Field(
        default="groups",
        description="Single sign-on: the claim of the ID token (or userinfo) that lists the "
        "user's groups.",
    )
    oidc_role_map: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Single sign-on: JSON object from a provider group to roles, e.g. {"ml-risk": '
        '["loans:risk_manager"], "ml-admins": ["admin"]}. The (project, role) pairs the map '
        "names are managed by the provider: granted or taken back at each sign-in.",
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="Single sign-on: the callback URL registered at the provider. Default: "
        "<the server's URL>/auth/oidc/callback as the request reached it.",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="PEM file of the Ed25519 key that signs the audit chain's checkpoints. "
        "Default: $RELAY_HOME/audit-ed25519.pem, created on first use with mode 0600. Servers "
        "that share one database must share this key file (keep a copy: checkpoints signed with "
        "a lost key can no longer be checked against the server).",
    )
    audit_checkpoint_interval: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds between signed checkpoints of the audit chain's head made by "
        "`relay server` (only when the head moved; 0: never; `relay audit checkpoint` makes one "
        "on demand).",
    )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return Path(os.path.expanduser(value))

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with the embedded default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'relay.db').absolute()}"

    @property
    def resolved_artifacts_url(self) -> str:
        """The artifact store URL, with the embedded default filled in."""
        if self.artifacts_url:
            return self.artifacts_url
        return str((self.home / "artifacts").absolute())

    @property
    def resolved_audit_key_file(self) -> Path:
        """The audit signing key's file, with the default under RELAY_HOME filled in."""
        return Path(self.audit_key_file or self.home / "audit-ed25519.pem").absolute()

    def describe(self) -> list[dict[str, Any]]:
        """Each setting with its environment variable, value, source and help."""
        rows = []
        for name, field in type(self).model_fields.items():
            env = f"RELAY_{name.upper()}"
            value = getattr(self, name)
            if name == "database_url" and value is None:
                value = self.resolved_database_url
            if name == "artifacts_url" and value is None:
                value = self.resolved_artifacts_url
            if name == "audit_key_file" and value is None:
                value = self.resolved_audit_key_file
            if name in SECRET_SETTINGS and value:
                value = "***"
            if name.endswith("_url") and value:
                value = redact_url(str(value))
            source = "set" if name in self.model_fields_set else "default"
            if env in os.environ:
                source = "environment"
            rows.append(
                {
                    "name": name,
                    "env": env,
                    "value": str(value) if value is not None else "",
                    "source": source,
                    "help": field.description or "",
                }
            )
        return rows


def redact_url(url: str) -> str:
    """The URL with its password shown as ***, for messages and `relay config`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL (a bad port, say): nothing to hide that can be found
        return url
    if not password:
        return url
    credentials, host = parts.netloc.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def settings_inputs() -> tuple[object, ...]:
    """What Settings() is read from (the folder, RELAY_* and the user-name variables): equal
    inputs give equal settings, so a caller may keep the settings it read while they stay equal."""
    names = ("LOGNAME", "USER", "LNAME", "USERNAME")  # getpass.getuser's, for the default user
    read = sorted((k, v) for k, v in os.environ.items() if k[:6].upper() == "RELAY_" or k in names)
    return (os.getcwd(), *read)


def get_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment, with explicit overrides on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)


# A third-party library's own environment switch (not a relayml setting, so not in `relay config`):
# read and set here so that this module stays the one place that touches the environment.
def library_variable(name: str) -> str | None:
    """The value of a library's own environment variable (e.g. PROMETHEUS_MULTIPROC_DIR)."""
    return os.environ.get(name)


def set_library_variable(name: str, value: str | None) -> None:
    """Set (or, with None, remove) a library's own environment variable for this process."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextmanager
def process_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """This process's environment with `variables` set for the duration (then as it was): to
    run a command in-process as it would run in a subprocess given child_environment(...)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def child_environment(settings: Settings, **variables: str) -> dict[str, str]:
    """The environment of a relayml subprocess that opens these settings' store in-process.

    This process's variables, with the store, artifacts and executor of ``settings`` set and
    the server URL and token left out (the subprocess is not a client); ``variables`` on top.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("RELAY_SERVER_URL", "RELAY_TOKEN")}
    env.update(
        RELAY_HOME=str(settings.home.absolute()),
        RELAY_DATABASE_URL=settings.resolved_database_url,
        RELAY_ARTIFACTS_URL=settings.resolved_artifacts_url,
        RELAY_ARTIFACTS_OPTIONS=json.dumps(settings.artifacts_options),
        RELAY_EXECUTOR=settings.executor,
    )
    return {**env, **variables}
