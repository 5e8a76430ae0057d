"""Tables of the feature store's registry (same metadata as schema.py).

A definition (an entity, a feature set or an on-demand feature set) is a name of a kind in a
project (``feature_defs``); each change to it is a new immutable version in
``feature_def_versions`` (its spec as JSON and the spec's sha256, so that applying the same
definition twice finds it). ``feature_stages`` holds which version is in which environment, over
time; ``feature_checks`` the outcome of a feature set's data checks on its source.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from relayml.store.schema import BigId, metadata

__all__ = ["feature_checks", "feature_def_versions", "feature_defs", "feature_stages"]

feature_defs = Table(
    "feature_defs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # entity, feature_set, on_demand
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "kind", "name"),
)

feature_def_versions = Table(
    "feature_def_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("def_id", Integer, ForeignKey("feature_defs.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("def_id", "version"),
)

feature_stages = Table(
    "feature_stages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("def_id", Integer, ForeignKey("feature_defs.id"), nullable=False, index=True),
    Column("environment", String(50), nullable=False),
    Column("version", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("assigned_by", String(200), nullable=False),
    Column("assigned_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),  # null: the version is there now
)

feature_checks = Table(
    "feature_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("def_id", Integer, ForeignKey("feature_defs.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("passed", Integer, nullable=False),  # 1 or 0
    Column("results", JSON, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("latest_event_at", BigInteger, nullable=True),  # ms: the freshest value's event time
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
