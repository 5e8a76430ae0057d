"""Request bodies of the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from relayml.domain.entities import KPI, RunStatus
from relayml.domain.models import ModelFile, Signature

__all__ = [
    "EvaluationIn",
    "ExperimentIn",
    "MemberIn",
    "MetricsIn",
    "ModelVersionIn",
    "PolicyIn",
    "ProjectIn",
    "ProjectPatch",
    "PromotionIn",
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
    include_deleted: bool = Field(default=False, description="Deleted runs too.")


class MemberIn(BaseModel):
    """A user and the role they get in a project."""

    model_config = _STRICT
    user: str
    role: str


class ModelVersionIn(BaseModel):
    """A new model version whose files were uploaded to /api/v1/blobs."""

    model_config = _STRICT
    flavor: str
    files: list[ModelFile]
    signature: Signature
    requirements: list[str]
    details: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None
    description: str = ""


class EvaluationIn(BaseModel):
    """An evaluation result of a version (see relayml.models.evaluation)."""

    model_config = _STRICT
    ref: str
    result: dict[str, Any]


class PolicyIn(BaseModel):
    """A policy as YAML (or JSON) text."""

    model_config = _STRICT
    source: str


class PromotionIn(BaseModel):
    """A promotion request, check or decision."""

    model_config = _STRICT
    ref: str
    environment: str
    reason: str = ""
    decision: str | None = None
    comment: str = ""
