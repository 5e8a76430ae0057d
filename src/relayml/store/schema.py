"""Tables of the metadata store (SQLAlchemy Core). Alembic migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "alias_history",
    "artifacts",
    "audit_log",
    "data_checks",
    "dataset_versions",
    "datasets",
    "experiments",
    "kpis",
    "latest_metrics",
    "lineage_edges",
    "lineage_nodes",
    "metadata",
    "metrics",
    "model_versions",
    "params",
    "pipeline_runs",
    "project_members",
    "projects",
    "registered_models",
    "runs",
    "step_cache",
    "step_runs",
    "tags",
]

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (fast, auto-increment).
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("business_question", Text, nullable=False, default=""),
    Column("owner", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

kpis = Table(
    "kpis",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("unit", String(100), nullable=False, default=""),
    Column("direction", String(20), nullable=False, default="increase"),
    Column("target", Float, nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("definition", JSON, nullable=False, default=dict),
    UniqueConstraint("project_id", "name"),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),  # epoch ms; set: hidden, restorable
    UniqueConstraint("project_id", "name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("status", String(20), nullable=False),
    Column("user", String(200), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("system", JSON, nullable=False, default=dict),
    Column("wall_time", Float, nullable=True),
    Column("cpu_time", Float, nullable=True),
    Column("peak_memory_mb", Float, nullable=True),
    Column("deleted_at", BigInteger, nullable=True),  # epoch ms; set: hidden, restorable
    Index(None, "project_id", "start_time", "id"),
    Index(None, "experiment_id", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value"),
)

# Every point of every metric series. NaN is stored as NULL (SQLite cannot hold NaN).
metrics = Table(
    "metrics",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "run_id", "key", "step"),
)

# The last point (highest step, then latest timestamp) of each series: what search reads.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "key", "value", "run_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("entity_kind", String(50), nullable=False),
    Column("entity_id", String(250), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    # sha256 over the previous entry's hash and this entry (domain/audit_chain.py); null only for
    # entries written before the chain existed (migration 0007 chains them)
    Column("hash", String(64), nullable=True),
    Index(None, "entity_kind", "entity_id", "id"),
)

# --- models: members, registry, versions, environments (promotion: schema_promotion.py) ------

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True),
    Column("user", String(200), primary_key=True),
    Column("role", String(50), primary_key=True),
    Column("added_at", BigInteger, nullable=False),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("owner", String(200), nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=dict),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flavor", String(50), nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=True),
    Column("files", JSON, nullable=False),  # [{"path", "sha256", "size"}]
    Column("signature", JSON, nullable=False),
    Column("requirements", JSON, nullable=False),  # ["pkg==1.2.3", ...]
    Column("details", JSON, nullable=False, default=dict),  # flavor facts, code version, datasets
    Column("description", Text, nullable=False, default=""),
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "version"),
)

# Which version held an environment (alias) from when to when; the open row is the current one.
alias_history = Table(
    "alias_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(50), nullable=False),
    Column("version", Integer, nullable=False),
    Column("assigned_at", BigInteger, nullable=False),
    Column("assigned_by", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("ended_at", BigInteger, nullable=True),
    Column("ended_by", String(200), nullable=True),
    Index(None, "model_id", "alias", "ended_at"),
)

# --- data: datasets, data checks, pipelines, lineage -----------------------------------------

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),  # of the canonical form
    Column("sha256", String(64), nullable=False),  # the Parquet blob
    Column("rows", BigInteger, nullable=False),
    Column("columns", Integer, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("source", JSON, nullable=False),  # kind, uri, query, ...
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("dataset_id", "version"),
    UniqueConstraint("dataset_id", "content_hash"),
)

data_checks = Table(
    "data_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset_version_id", Integer, ForeignKey("dataset_versions.id"), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("results", JSON, nullable=False),
    Column("passed", Integer, nullable=False),  # 1 or 0
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("pipeline", String(250), nullable=False),  # module:function
    Column("status", String(20), nullable=False),
    Column("executor", String(100), nullable=False),
    Column("params", JSON, nullable=False, default=dict),
    Column("error", Text, nullable=True),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("created_by", String(200), nullable=False),
    Index(None, "project_id", "started_at"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pipeline_run_id", String(32), ForeignKey("pipeline_runs.id"), nullable=False),
    Column("step", String(250), nullable=False),
    Column("status", String(20), nullable=False),  # RUNNING|FINISHED|FAILED|CACHED|SKIPPED
    Column("cache_key", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("duration", Float, nullable=True),
    Column("cpu_time", Float, nullable=True),
    Column("peak_memory_mb", Float, nullable=True),
    Column("logs", Text, nullable=False, default=""),
    Column("error", Text, nullable=True),
    Column("outputs", JSON, nullable=False, default=dict),  # name -> {"sha256", "kind", ...}
    Index(None, "pipeline_run_id", "id"),
)

# What a step produced for a cache key: a finished step with the same key is not run again.
step_cache = Table(
    "step_cache",
    metadata,
    Column("cache_key", String(64), primary_key=True),
    Column("step", String(250), nullable=False),
    Column("outputs", JSON, nullable=False),
    Column("step_run_id", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Nodes are whatever lineage links: relay entities (dataset_version, run, model_version,
# step_run, ...) and external ones from OpenLineage (dataset, job, job_run), keyed by kind+key.
lineage_nodes = Table(
    "lineage_nodes",
    metadata,
    Column("kind", String(50), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("label", String(500), nullable=False, default=""),
    Column("facets", JSON, nullable=False, default=dict),
    Column("updated_at", BigInteger, nullable=False),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("src_kind", String(50), nullable=False),
    Column("src_key", String(500), nullable=False),
    Column("dst_kind", String(50), nullable=False),
    Column("dst_key", String(500), nullable=False),
    Column("relation", String(50), nullable=False),  # input_of | produced | derived_from | ...
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("src_kind", "src_key", "dst_kind", "dst_key", "relation"),
    Index(None, "dst_kind", "dst_key"),
)
