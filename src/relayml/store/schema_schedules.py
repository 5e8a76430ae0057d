"""Tables of pipeline schedules and their firings (same metadata as schema.py).

A schedule (``schedules``) names a pipeline, its params and a trigger; ``cursor`` is how far its
trigger has looked: the last cron time handled (epoch ms) or the last audit entry seen (its id).
Each firing (``schedule_firings``) is claimed by inserting its ``key`` (the cron time or the audit
entry that fired it): the unique key makes two ticks, on two threads or two server replicas,
fire a trigger once.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from relayml.store.schema import BigId, metadata

__all__ = ["schedule_firings", "schedules"]

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("pipeline", String(1000), nullable=False),
    Column("params", JSON, nullable=False),
    Column("workdir", Text, nullable=True),
    Column("trigger", JSON, nullable=False),  # domain.schedules.Trigger
    Column("enabled", Boolean, nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

schedule_firings = Table(
    "schedule_firings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("schedule_id", Integer, ForeignKey("schedules.id"), nullable=False),
    Column("key", String(100), nullable=False),  # cron:<ms> or audit:<entry id>
    Column("reason", Text, nullable=False),
    Column("fired_at", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),  # started, running, finished, failed
    Column("pipeline_run", String(64), nullable=True),
    Column("error", Text, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Column("log", Text, nullable=True),
    UniqueConstraint("schedule_id", "key"),
)
