"""Entities of the model registry: versions, signatures, environments, evaluations, promotions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relayml.domain.roles import ENVIRONMENTS, ROLES
from relayml.errors import InvalidInput

__all__ = [
    "ENVIRONMENTS",
    "ROLES",
    "AliasEvent",
    "Approval",
    "ColumnSpec",
    "Evaluation",
    "GateReport",
    "GateResult",
    "ModelFile",
    "ModelHistory",
    "ModelRef",
    "ModelVersion",
    "PolicyInfo",
    "Promotion",
    "RegisteredModel",
    "Signature",
    "parse_model_ref",
]

_CONFIG = ConfigDict(ser_json_inf_nan="strings", frozen=True)


class ColumnSpec(BaseModel):
    """One input or output column: its name and dtype ('int64', 'float64', 'bool', 'string')."""

    model_config = _CONFIG
    name: str
    dtype: str
    nullable: bool = False


class Signature(BaseModel):
    """What a model takes and gives, inferred from an input example."""

    model_config = _CONFIG
    inputs: list[ColumnSpec]
    input_kind: Literal["dataframe", "ndarray"] = "dataframe"
    outputs: list[ColumnSpec]
    output_shape: list[int] = Field(description="-1 for the row dimension, e.g. [-1] or [-1, 2]")
    task: Literal["classification", "regression", "other"] = "other"
    classes: list[Any] | None = None
    has_proba: bool = False


class ModelFile(BaseModel):
    """One file of a saved model, addressed by its content hash."""

    model_config = _CONFIG
    path: str
    sha256: str
    size: int


class RegisteredModel(BaseModel):
    """A named model in a project, with its versions' environments."""

    model_config = _CONFIG
    id: int
    project: str
    name: str
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict, description="environment -> version")


class ModelVersion(BaseModel):
    """An immutable version of a model: its files, signature and requirements."""

    model_config = _CONFIG
    id: int
    project: str
    model: str
    version: int
    flavor: str
    run_id: str | None = None
    files: list[ModelFile]
    signature: Signature
    requirements: list[str]
    details: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    created_by: str
    created_at: datetime
    aliases: list[str] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        """The reference users type: name/version."""
        return f"{self.model}/{self.version}"


class AliasEvent(BaseModel):
    """A stretch of time during which a version held an environment."""

    model_config = _CONFIG
    model: str
    alias: str
    version: int
    assigned_at: datetime
    assigned_by: str
    reason: str = ""
    ended_at: datetime | None = None
    ended_by: str | None = None


class Evaluation(BaseModel):
    """Metrics of a model version on a dataset, overall, per segment, and in KPIs."""

    model_config = _CONFIG
    id: int
    model: str
    version: int
    dataset: str
    target: str
    task: Literal["classification", "regression"]
    rows: int
    metrics: dict[str, float]
    segments: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)
    kpis: dict[str, dict[str, Any]] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    created_by: str
    created_at: datetime


class GateResult(BaseModel):
    """One check of a promotion policy, with its figure and threshold."""

    model_config = _CONFIG
    name: str
    passed: bool
    figure: float | None = None
    threshold: float | None = None
    detail: str = ""


class Approval(BaseModel):
    """One person's decision on a promotion."""

    model_config = _CONFIG
    user: str
    role: str
    decision: Literal["approve", "reject"]
    comment: str = ""
    at: datetime


class Promotion(BaseModel):
    """A request to move a version into an environment, and what came of it."""

    model_config = _CONFIG
    id: int
    model: str
    version: int
    environment: str
    status: Literal["PENDING_APPROVAL", "PROMOTED", "REJECTED", "FAILED"]
    policy_revision: int | None = None
    gates: list[GateResult] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    waiting_for: list[str] = Field(default_factory=list, description="roles still to approve")
    reason: str = ""
    requested_by: str
    requested_at: datetime
    decided_at: datetime | None = None


class ModelRef(BaseModel):
    """A parsed model reference: name/version, name@environment, or name (latest)."""

    model_config = _CONFIG
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_\-.]*)(?:/(?P<v>[^/@]+)|@(?P<a>[^/@]+))?$")


def parse_model_ref(text: str) -> ModelRef:
    """Parse 'churn/3', 'churn@production' or 'churn'; InvalidInput says the forms otherwise."""
    match = _REF.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a model reference; write name/version (churn/3), "
            "name@environment (churn@production) or a name alone for its latest version."
        )
    version = match.group("v")
    if version is not None:
        if not version.isdigit() or int(version) < 1:
            raise InvalidInput(
                f"{text!r}: the version after '/' must be a whole number from 1, got {version!r}."
            )
        return ModelRef(name=match.group("name"), version=int(version))
    alias = match.group("a")
    if alias is not None and alias not in ENVIRONMENTS:
        raise InvalidInput(
            f"{text!r}: unknown environment {alias!r}; environments are {', '.join(ENVIRONMENTS)}."
        )
    return ModelRef(name=match.group("name"), alias=alias)


class ModelHistory(BaseModel):
    """Everything that happened to a model's environments: who moved what, when, and why."""

    model_config = _CONFIG
    model: str
    aliases: list[AliasEvent]
    promotions: list[Promotion]


class PolicyInfo(BaseModel):
    """A project's promotion policy and its revision (None: the project has none yet)."""

    model_config = _CONFIG
    project: str
    revision: int | None = None
    document: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(default="", description="The policy text as it was submitted.")


class GateReport(BaseModel):
    """The gates of a prospective promotion, run without changing anything."""

    model_config = _CONFIG
    model: str
    version: int
    environment: str
    gates: list[GateResult]
    approvals_needed: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every gate passed (approvals may still be needed)."""
        return all(g.passed for g in self.gates)
