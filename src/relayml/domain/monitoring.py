"""Entities of monitoring: feedback flags, decision table revisions, alert rules and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertEvent",
    "AlertRule",
    "DecisionTableInfo",
    "FeedbackFlag",
    "PredictionRecord",
]

_CONFIG = ConfigDict(frozen=True, ser_json_inf_nan="strings")


class PredictionRecord(BaseModel):
    """One logged prediction: what went in, what came out, which version answered."""

    model_config = _CONFIG
    prediction_id: str
    project: str
    deployment: str
    model: str
    version: int
    variant: str
    mode: str
    timestamp: datetime
    inputs: dict[str, Any]
    prediction: Any
    probabilities: list[float] | None = None
    score: float | None = None
    decision: Any = None
    shadows: list[PredictionRecord] = Field(
        default_factory=list,
        description="the same row answered by the deployment's shadows (logged, never returned)",
    )


class FeedbackFlag(BaseModel):
    """A subject-matter expert's flag on one prediction: wrong or unexpected, and why."""

    model_config = _CONFIG
    id: int
    project: str
    model: str
    prediction_id: str
    kind: Literal["wrong", "unexpected"]
    comment: str = ""
    correct_value: Any = None
    status: Literal["open", "resolved"]
    created_by: str
    created_at: datetime
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None


class DecisionTableInfo(BaseModel):
    """One revision of a model's decision table."""

    model_config = _CONFIG
    project: str
    model: str
    revision: int
    document: dict[str, Any]
    source: str = ""
    created_by: str
    created_at: datetime


class AlertRule(BaseModel):
    """A rule on a monitored figure: when it is above or below a threshold, alert."""

    model_config = _CONFIG
    id: int
    project: str
    name: str
    spec: dict[str, Any] = Field(description="model, environment, figure, above/below, window")
    severity: Literal["info", "warning", "critical"]
    enabled: bool = True
    created_by: str
    created_at: datetime


class AlertEvent(BaseModel):
    """One firing of a rule: open until acknowledged, resolved when the figure recovers."""

    model_config = _CONFIG
    id: int
    rule: str
    project: str
    severity: str
    status: Literal["open", "acknowledged", "resolved"]
    value: float | None
    last_value: float | None
    message: str
    opened_at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    deliveries: list[dict[str, Any]] = Field(default_factory=list)
