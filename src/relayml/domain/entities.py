"""The entities of the metadata store, as the services hand them out."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "KPI",
    "Artifact",
    "AuditEntry",
    "AuditQuery",
    "Experiment",
    "MetricPoint",
    "Project",
    "Run",
    "RunPage",
    "RunStatus",
]

_CONFIG = ConfigDict(ser_json_inf_nan="strings", frozen=True)


class RunStatus(enum.StrEnum):
    """Where a run is in its life."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """True once the run has ended."""
        return self is not RunStatus.RUNNING


class KPI(BaseModel):
    """A business figure the project is judged by."""

    model_config = _CONFIG

    name: str
    unit: str = ""
    direction: Literal["increase", "decrease"] = "increase"
    target: float | None = None
    description: str = ""
    definition: dict[str, Any] = Field(default_factory=dict)


class Project(BaseModel):
    """A business question, its owner and its KPIs."""

    model_config = _CONFIG

    id: int
    name: str
    description: str = ""
    business_question: str = ""
    owner: str = ""
    created_at: datetime
    kpis: list[KPI] = Field(default_factory=list)


class Experiment(BaseModel):
    """A named group of runs in a project."""

    model_config = _CONFIG

    id: int
    project: str
    name: str
    description: str = ""
    created_at: datetime
    deleted_at: datetime | None = Field(
        default=None, description="When it was deleted (hidden, restorable); null if it is not."
    )


class MetricPoint(BaseModel):
    """One value of a metric series."""

    model_config = _CONFIG

    key: str
    value: float
    step: int = 0
    timestamp: int = Field(description="Milliseconds since the Unix epoch.")


class Run(BaseModel):
    """One execution of training code, with what it logged."""

    model_config = _CONFIG

    id: str
    project: str
    experiment: str
    name: str
    status: RunStatus
    user: str
    start_time: datetime
    end_time: datetime | None = None
    error: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict, description="Latest value per key.")
    tags: dict[str, str] = Field(default_factory=dict)
    system: dict[str, Any] = Field(
        default_factory=dict, description="Captured context: git, python, packages, command."
    )
    wall_time: float | None = Field(default=None, description="Seconds from start to end.")
    cpu_time: float | None = Field(default=None, description="CPU seconds spent by the process.")
    peak_memory_mb: float | None = Field(default=None, description="Peak resident memory, MiB.")
    deleted_at: datetime | None = Field(
        default=None, description="When it was deleted (hidden, restorable); null if it is not."
    )


class RunPage(BaseModel):
    """One page of search results."""

    model_config = _CONFIG

    runs: list[Run]
    next_page_token: str | None = None


class Artifact(BaseModel):
    """A file stored for a run, by content hash."""

    model_config = _CONFIG

    run_id: str
    path: str
    sha256: str
    size: int
    created_at: datetime


class AuditEntry(BaseModel):
    """One state change: who did what to which entity, before and after."""

    model_config = _CONFIG

    id: int
    at: datetime
    actor: str
    action: str
    entity_kind: str
    entity_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditQuery(BaseModel):
    """Which audit entries to read: filters, page size, and the id to page back from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_kind: str | None = Field(default=None, description="Exactly this entity type.")
    entity_id: str | None = Field(default=None, description="Only this entity.")
    actor: str | None = Field(default=None, description="Only changes by this user.")
    kind: str | None = Field(
        default=None, description="An entity type or an action (e.g. policy, set_tags, run.end)."
    )
    since: int | None = Field(default=None, description="From this time, epoch ms.")
    until: int | None = Field(default=None, description="Before this time, epoch ms.")
    before: int | None = Field(default=None, description="Entries older than this id (paging).")
    limit: int = Field(default=100, description="At most this many (up to 10,000).")
