"""Tables of monitoring: decision tables, alert rules and events, feedback flags."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from relayml.store.schema import metadata

__all__ = ["alert_events", "alert_rules", "decision_tables", "feedback_flags"]

# Every revision of a model's decision table; the newest one is applied.
decision_tables = Table(
    "decision_tables",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    Column("source", Text, nullable=False, default=""),  # the YAML as submitted
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "revision"),
)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("spec", JSON, nullable=False),  # model, environment, figure, above/below, window, ...
    Column("severity", String(20), nullable=False),  # info | warning | critical
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer, ForeignKey("alert_rules.id"), nullable=False),
    Column("status", String(20), nullable=False),  # open | acknowledged | resolved
    Column("value", Float, nullable=True),  # the figure when it fired
    Column("last_value", Float, nullable=True),  # the figure at the last evaluation
    Column("message", Text, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("acknowledged_by", String(200), nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("deliveries", JSON, nullable=False, default=list),  # [{"to", "at", "status", ...}]
    Index(None, "rule_id", "status"),
)

feedback_flags = Table(
    "feedback_flags",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("model", String(200), nullable=False),
    Column("prediction_id", String(32), nullable=False),
    Column("kind", String(20), nullable=False),  # wrong | unexpected
    Column("comment", Text, nullable=False, default=""),
    Column("correct_value", JSON, nullable=True),
    Column("status", String(20), nullable=False),  # open | resolved
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("resolved_by", String(200), nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("resolution", Text, nullable=True),
    Index(None, "project_id", "model", "status"),
    Index(None, "prediction_id"),
)
