"""Tables of promotion: evaluations, policies, promotion requests and their approvals.

What a model version must pass to move between environments, and what came of each request
(same metadata as schema.py; the versions themselves are in schema.py).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from relayml.store.schema import metadata

__all__ = ["approvals", "evaluations", "policies", "promotions"]

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("dataset", String(500), nullable=False),  # a dataset reference or a content hash
    Column("target", String(250), nullable=False),
    Column("task", String(20), nullable=False),  # classification | regression
    Column("rows", Integer, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("segments", JSON, nullable=False, default=dict),  # {column: {value: {metric: x}}}
    Column("kpis", JSON, nullable=False, default=dict),  # {kpi: {"value", "unit", ...}}
    Column("details", JSON, nullable=False, default=dict),  # confusion matrix, calibration
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "version_id", "id"),
)

policies = Table(
    "policies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),  # the YAML text as submitted
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "revision"),
)

promotions = Table(
    "promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("environment", String(50), nullable=False),
    Column("status", String(30), nullable=False),  # PENDING_APPROVAL|PROMOTED|REJECTED|FAILED
    Column("policy_revision", Integer, nullable=True),
    Column("gates", JSON, nullable=False),  # [{"name","passed","figure","threshold","detail"}]
    Column("reason", Text, nullable=False, default=""),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Index(None, "version_id", "environment", "id"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("promotion_id", Integer, ForeignKey("promotions.id"), nullable=False),
    Column("user", String(200), nullable=False),
    Column("role", String(50), nullable=False),
    Column("decision", String(10), nullable=False),  # approve | reject
    Column("comment", Text, nullable=False, default=""),
    Column("at", BigInteger, nullable=False),
)
