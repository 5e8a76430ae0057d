"""Entities of pipelines: a pipeline run and the runs of its steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PipelineRun", "StepRun"]

_CONFIG = ConfigDict(ser_json_inf_nan="strings", frozen=True)


class StepRun(BaseModel):
    """One step of a pipeline run: what it did, how long, how much, and what it produced."""

    model_config = _CONFIG
    id: int
    step: str
    status: Literal["RUNNING", "FINISHED", "FAILED", "CACHED", "SKIPPED"]
    cache_key: str
    attempts: int = 1
    started_at: datetime
    ended_at: datetime | None = None
    duration: float | None = None
    cpu_time: float | None = None
    peak_memory_mb: float | None = None
    logs: str = ""
    error: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)


class PipelineRun(BaseModel):
    """One run of a pipeline with its steps."""

    model_config = _CONFIG
    id: str
    project: str
    pipeline: str
    status: Literal["RUNNING", "FINISHED", "FAILED"]
    executor: str
    params: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    created_by: str
    steps: list[StepRun] = Field(default_factory=list)
