"""Tables of serving: deployments and every revision of them (same metadata as schema.py)."""

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

from relayml.store.schema import metadata

__all__ = ["deployment_revisions", "deployments"]

# The current state of a deployment; deployment_revisions keeps every state it had.
deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("environment", String(50), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("strategy", String(20), nullable=False),  # single | canary | ab | shadow
    Column("variants", JSON, nullable=False),  # [{"version", "weight", "mode"}]
    Column("sticky_key", String(250), nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "environment"),
)

deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", Integer, ForeignKey("deployments.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("strategy", String(20), nullable=False),
    Column("variants", JSON, nullable=False),
    Column("sticky_key", String(250), nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("deployment_id", "revision"),
)
