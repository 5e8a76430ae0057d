"""Entities of pipeline schedules: what runs a pipeline (a cron time or an event) and each firing.

A trigger is written as users type it: a cron expression (UTC) such as ``0 6 * * *``, or an
event: ``dataset:customers`` (a new version of the dataset), ``alert:prices moved`` (the rule
fired) or ``promotion:churn@production`` (a version of the model moved into the environment).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from relayml.domain.roles import ENVIRONMENTS
from relayml.errors import InvalidInput

__all__ = [
    "EVENT_ACTIONS",
    "EVENT_KINDS",
    "Firing",
    "Schedule",
    "ScheduleDetail",
    "Trigger",
    "parse_event",
]

_CONFIG = ConfigDict(frozen=True)

TriggerKind = Literal["cron", "dataset", "alert", "promotion"]
EVENT_KINDS: tuple[str, ...] = ("dataset", "alert", "promotion")
# The audit log's action that each event kind follows.
EVENT_ACTIONS: dict[str, str] = {
    "dataset": "dataset.create_version",
    "alert": "alert.fire",
    "promotion": "model.move_alias",
}
FiringStatus = Literal["started", "running", "finished", "failed"]


class Trigger(BaseModel):
    """When a schedule fires: at the times of a cron expression (UTC), or on an event."""

    model_config = _CONFIG
    kind: TriggerKind
    cron: str | None = None  # kind cron
    dataset: str | None = None  # kind dataset
    rule: str | None = None  # kind alert
    model: str | None = None  # kind promotion
    environment: str | None = None  # kind promotion

    def text(self) -> str:
        """The trigger as a user writes it: '0 6 * * *' or 'dataset:customers'."""
        if self.kind == "cron":
            return self.cron or ""
        if self.kind == "dataset":
            return f"dataset:{self.dataset}"
        if self.kind == "alert":
            return f"alert:{self.rule}"
        return f"promotion:{self.model}@{self.environment}"


def parse_event(text: str) -> Trigger:
    """An event trigger from 'dataset:NAME', 'alert:RULE' or 'promotion:MODEL@ENV'."""
    kind, sep, rest = text.partition(":")
    kind, rest = kind.strip(), rest.strip()
    examples = "dataset:customers, alert:prices moved or promotion:churn@production"
    if not sep or kind not in EVENT_KINDS or not rest:
        raise InvalidInput(f"event {text!r} is not a trigger; write {examples}.")
    if kind == "dataset":
        if "@" in rest:
            raise InvalidInput(
                f"event {text!r}: name the dataset without a version (dataset:{rest.split('@')[0]})"
                "; every new version fires it."
            )
        return Trigger(kind="dataset", dataset=rest)
    if kind == "alert":
        return Trigger(kind="alert", rule=rest)
    model, at, environment = rest.partition("@")
    if not at or not model.strip() or environment.strip() not in ENVIRONMENTS:
        raise InvalidInput(
            f"event {text!r}: write promotion:MODEL@ENV with ENV one of "
            f"{', '.join(ENVIRONMENTS)} (e.g. promotion:churn@production)."
        )
    return Trigger(kind="promotion", model=model.strip(), environment=environment.strip())


class Schedule(BaseModel):
    """A pipeline that runs by itself: its target, params, trigger and whether it is enabled."""

    model_config = _CONFIG
    id: int
    project: str
    name: str
    pipeline: str = Field(description="module:name or path/to/file.py:name")
    params: dict[str, str] = Field(default_factory=dict)
    workdir: str | None = Field(None, description="the folder the pipeline is imported from")
    trigger: Trigger
    enabled: bool = True
    created_by: str
    created_at: datetime
    last_fired_at: datetime | None = None
    next_due: datetime | None = Field(None, description="the next cron time (cron triggers)")


class Firing(BaseModel):
    """One time a schedule fired: why, when, what became of the pipeline run it started."""

    model_config = _CONFIG
    id: int
    schedule: str
    project: str
    reason: str
    fired_at: datetime
    status: FiringStatus
    pipeline_run: str | None = None
    error: str | None = None
    ended_at: datetime | None = None
    log: str | None = Field(None, description="the file the run's output went to")


class ScheduleDetail(BaseModel):
    """A schedule with its newest firings."""

    model_config = _CONFIG
    schedule: Schedule
    firings: list[Firing] = Field(default_factory=list)
