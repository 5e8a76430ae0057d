"""Request bodies of the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from relayml.domain.entities import KPI, RunStatus

__all__ = [
    "ExperimentIn",
    "MetricsIn",
    "ProjectIn",
    "ProjectPatch",
    "RunEndIn",
    "RunIn",
    "SearchIn",
    "ValuesIn",
]

_STRICT = ConfigDict(extra="forbid")


class ProjectIn(BaseModel):
    """A new project."""

    model_config = _STRICT
    name: str
    description: str = ""
    business_question: str = ""
    owner: str | None = None
    kpis: list[KPI] = Field(default_factory=list)


class ProjectPatch(BaseModel):
    """Fields of a project to change; absent fields stay as they are."""

    model_config = _STRICT
    description: str | None = None
    business_question: str | None = None
    owner: str | None = None
    kpis: list[KPI] | None = None


class ExperimentIn(BaseModel):
    """A new experiment."""

    model_config = _STRICT
    name: str
    description: str = ""


class RunIn(BaseModel):
    """A new run."""

    model_config = _STRICT
    experiment: str = "default"
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    system: dict[str, Any] = Field(default_factory=dict)
    start_time: int | None = None


class RunEndIn(BaseModel):
    """How a run ended."""

    model_config = _STRICT
    status: RunStatus
    error: str | None = None
    end_time: int | None = None
    cpu_time: float | None = None
    peak_memory_mb: float | None = None
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    points: list[tuple[str, float, int, int]] = Field(default_factory=list, max_length=100_000)


class ValuesIn(BaseModel):
    """Params or tags: key to value."""

    model_config = _STRICT
    values: dict[str, str | int | float | bool | None]


class MetricsIn(BaseModel):
    """Metric points as [key, value, step, timestamp_ms]; value may be "NaN"/"Infinity"."""

    model_config = _STRICT
    points: list[tuple[str, float, int, int]] = Field(max_length=100_000)


class SearchIn(BaseModel):
    """A run search."""

    model_config = _STRICT
    filter: str | None = None
    order_by: list[str] = Field(default_factory=list)
    max_results: int = 100
    page_token: str | None = None
    experiments: list[str] | None = None
