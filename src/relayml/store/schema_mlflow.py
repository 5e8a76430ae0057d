"""Tables that keep what MLflow's API knows and relayml's own tables do not (same metadata).

Experiments, runs, params, metrics, tags, artifacts and model versions logged through the MLflow
API are relayml's own rows; these tables only add MLflow's names and extras beside them.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer, String, Table, Text

from relayml.store.schema import metadata

__all__ = [
    "mlflow_aliases",
    "mlflow_experiments",
    "mlflow_files",
    "mlflow_logged_models",
    "mlflow_versions",
]

# An experiment's MLflow name (one flat namespace), its artifact location and tags.
mlflow_experiments = Table(
    "mlflow_experiments",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", Text, nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=dict),
    Column("updated_at", BigInteger, nullable=False),
)

# MLflow 3 logged models: a model's files and facts before (or without) a registered version.
mlflow_logged_models = Table(
    "mlflow_logged_models",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("name", String(500), nullable=False),
    Column("status", String(40), nullable=False),
    Column("model_type", String(200), nullable=False, default=""),
    Column("source", Text, nullable=True),
    Column("params", JSON, nullable=False, default=dict),
    Column("tags", JSON, nullable=False, default=dict),
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
)

# The files of a logged model (content-addressed blobs, like run artifacts).
mlflow_files = Table(
    "mlflow_files",
    metadata,
    Column("owner", String(40), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# MLflow's facts about a relayml model version: where its files came from, tags, stage.
mlflow_versions = Table(
    "mlflow_versions",
    metadata,
    Column("version_id", Integer, ForeignKey("model_versions.id"), primary_key=True),
    Column("source", Text, nullable=False),
    Column("storage", Text, nullable=False),
    Column("logged_model_id", String(40), nullable=True),
    Column("tags", JSON, nullable=False, default=dict),
    Column("stage", String(20), nullable=False, default="None"),
    Column("updated_at", BigInteger, nullable=False),
)

# MLflow aliases that are not relayml environments (champion, challenger, ...).
mlflow_aliases = Table(
    "mlflow_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
