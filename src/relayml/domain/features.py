"""Entities of the feature store: what users declare (entities, feature sets, on-demand feature
sets) and what the registry keeps (versioned definitions, plans, check reports).

    customer = Entity("customer", join_keys=["customer_id"])
    profile = FeatureSet(
        name="customer", entity="customer", source=Source(dataset="customers"),
        features=[Feature("tenure", "int64"), Feature("plan", "string")],
        event_time="event_time", created_time="created_at", ttl=timedelta(days=90),
    )

A feature is named ``set:feature`` (``customer:tenure``), or ``set@2:feature`` for a version.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relayml.domain.data import CheckOutcome
from relayml.domain.feature_refs import FeatureRef, diff_specs, parse_feature_ref, spec_hash
from relayml.errors import InvalidInput

__all__ = [
    "DEFINITION_KINDS",
    "DTYPES",
    "Entity",
    "Feature",
    "FeatureCheck",
    "FeatureDefinition",
    "FeatureImpact",
    "FeaturePlan",
    "FeatureRef",
    "FeatureSet",
    "OnDemandFeatureSet",
    "PlanItem",
    "Source",
    "Spec",
    "diff_specs",
    "kind_of",
    "parse_feature_ref",
    "spec_hash",
    "spec_model",
]

_DECLARED = ConfigDict(extra="forbid", frozen=True)
_STORED = ConfigDict(ser_json_inf_nan="strings", frozen=True)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,199}$")

DEFINITION_KINDS = ("entity", "feature_set", "on_demand")
# the dtypes a feature may declare (pandas/Arrow names); "any" checks nothing
DTYPES = (
    "int64", "int32", "float64", "float32", "bool", "string", "timestamp", "date", "any",
)  # fmt: skip


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} must start with a letter or digit and use only letters, digits, "
            "'_', '-' and '.' (at most 200 characters)"
        )
    return value


def _column(value: str, what: str) -> str:
    if not isinstance(value, str) or not _IDENT.match(value):
        raise ValueError(f"{what} {value!r} must be an identifier (letters, digits, '_')")
    return value


class Feature(BaseModel):
    """One feature: a column of its feature set's source, with its type and who owns it."""

    model_config = _DECLARED
    name: str
    dtype: str = "float64"
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    def __init__(self, name: str | None = None, dtype: str | None = None, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        if dtype is not None:
            data["dtype"] = dtype
        super().__init__(**data)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _column(value, "feature name")

    @field_validator("dtype")
    @classmethod
    def _check_dtype(cls, value: str) -> str:
        if value not in DTYPES:
            raise ValueError(f"dtype {value!r} is not one of {', '.join(DTYPES)}")
        return value


class Entity(BaseModel):
    """What features describe (a customer, a merchant), found by its join keys."""

    model_config = _DECLARED
    name: str
    join_keys: list[str] = Field(min_length=1, max_length=8)
    description: str = ""

    def __init__(self, name: str | None = None, **data: Any) -> None:
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _name(value, "entity name")

    @field_validator("join_keys")
    @classmethod
    def _check_keys(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"join_keys {value} repeat a column")
        return [_column(key, "join key") for key in value]


class Source(BaseModel):
    """Where a feature set's rows come from: a relayml dataset, or a pipeline step's output."""

    model_config = _DECLARED
    dataset: str | None = Field(None, description="customers (the latest) or customers@3")
    pipeline: str | None = Field(None, description="the pipeline (module:function) of the step")
    step: str | None = None
    output: str = "output"

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        if (self.dataset is None) == (self.pipeline is None):
            raise ValueError(
                "a source names either a dataset (Source(dataset='customers')) or a pipeline "
                "step (Source(pipeline='etl:build', step='features'))"
            )
        if self.pipeline is not None and not self.step:
            raise ValueError("a pipeline source names its step too: step='features'")
        return self

    def describe(self) -> str:
        """The source in a few words: 'dataset customers@3' or 'pipeline etl:build step x'."""
        if self.dataset is not None:
            return f"dataset {self.dataset}"
        return f"pipeline {self.pipeline} step {self.step} ({self.output})"


class FeatureSet(BaseModel):
    """Features of one entity read from one source, each row valid from its event time."""

    model_config = _DECLARED
    kind: Literal["feature_set"] = "feature_set"
    name: str
    entity: str
    source: Source
    features: list[Feature] = Field(min_length=1)
    event_time: str = "event_time"
    created_time: str | None = Field(None, description="when a row was written (as-of-known)")
    ttl: timedelta | None = Field(None, description="a value older than this is missing")
    checks: list[dict[str, Any]] = Field(default_factory=list, description="data check entries")
    owner: str = ""
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("entity", mode="before")
    @classmethod
    def _entity_name(cls, value: Any) -> Any:
        return value.name if isinstance(value, Entity) else value

    @model_validator(mode="after")
    def _check(self) -> FeatureSet:
        _name(self.name, "feature set name")
        _name(self.entity, "entity name")
        _column(self.event_time, "event_time")
        if self.created_time is not None:
            _column(self.created_time, "created_time")
        names = [f.name for f in self.features]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"feature names repeat: {', '.join(repeated)}")
        clash = {self.event_time, self.created_time} & set(names)
        if clash:
            raise ValueError(f"{', '.join(sorted(c for c in clash if c))} is a time column")
        if self.ttl is not None and self.ttl <= timedelta(0):
            raise ValueError("ttl must be positive (or None: values never expire)")
        return self

    def feature(self, name: str) -> Feature:
        """The feature of this name; KeyError if there is none."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def _repr_html_(self) -> str:
        """A table of the features, for Jupyter."""
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(f.name)}</td><td>{escape(f.dtype)}</td>"
            f"<td>{escape(f.owner or self.owner)}</td><td>{escape(f.description)}</td>"
            f"<td>{escape(', '.join(f'{k}={v}' for k, v in f.tags.items()))}</td></tr>"
            for f in self.features
        )
        ttl = str(self.ttl) if self.ttl is not None else "none"
        return (
            f"<div><b>feature set {escape(self.name)}</b> of entity {escape(self.entity)} "
            f"from {escape(self.source.describe())}; event time {escape(self.event_time)}, "
            f"created time {escape(self.created_time or '-')}, ttl {escape(ttl)}, "
            f"{len(self.checks)} checks<table><thead><tr><th>feature</th><th>dtype</th>"
            f"<th>owner</th><th>description</th><th>tags</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


class OnDemandFeatureSet(BaseModel):
    """Features computed by a Python function of other features and request fields.

    The function is kept as code: ``module:qualname`` plus the sha256 of its source, so that
    the same function runs offline (training frames) and online, and a changed function is a
    new version (and refused until applied).
    """

    model_config = _DECLARED
    kind: Literal["on_demand"] = "on_demand"
    name: str
    inputs: list[str] = Field(description="features it reads: ['customer:tenure', ...]")
    request_fields: list[str] = Field(default_factory=list)
    function: str = Field(description="module:qualname of a function DataFrame -> DataFrame")
    code_hash: str
    features: list[Feature] = Field(min_length=1)
    owner: str = ""
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> OnDemandFeatureSet:
        _name(self.name, "on-demand feature set name")
        for ref in self.inputs:
            parse_feature_ref(ref)
        for field in self.request_fields:
            _column(field, "request field")
        if ":" not in self.function:
            raise ValueError(f"function {self.function!r} must be module:qualname")
        return self


Spec = Entity | FeatureSet | OnDemandFeatureSet


def spec_model(kind: str, spec: dict[str, Any]) -> Spec:
    """The declared object a stored spec describes; InvalidInput for an unknown kind or bad spec."""
    from pydantic import ValidationError

    models: dict[str, type[Entity] | type[FeatureSet] | type[OnDemandFeatureSet]] = {
        "entity": Entity,
        "feature_set": FeatureSet,
        "on_demand": OnDemandFeatureSet,
    }
    if kind not in models:
        raise InvalidInput(f"unknown definition kind {kind!r}; kinds: {', '.join(models)}.")
    body = {k: v for k, v in spec.items() if k != "kind"} if kind == "entity" else spec
    try:
        return models[kind].model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or kind
        raise InvalidInput(f"{kind} {spec.get('name')!r}: {where}: {first['msg']}.") from None


def kind_of(definition: Spec) -> str:
    """'entity', 'feature_set' or 'on_demand'."""
    return "entity" if isinstance(definition, Entity) else definition.kind


class FeatureDefinition(BaseModel):
    """One stored version of a definition, and where its definition's versions are deployed."""

    model_config = _STORED
    project: str
    kind: str
    name: str
    version: int
    latest_version: int
    spec: dict[str, Any]
    spec_hash: str
    environments: dict[str, int] = Field(default_factory=dict, description="environment: version")
    created_by: str
    created_at: datetime

    @property
    def ref(self) -> str:
        """name@version."""
        return f"{self.name}@{self.version}"

    def declared(self) -> Spec:
        """The Entity, FeatureSet or OnDemandFeatureSet this version holds."""
        return spec_model(self.kind, self.spec)

    def _repr_html_(self) -> str:
        """The definition as a table, for Jupyter."""
        from html import escape

        declared = self.declared()
        envs = ", ".join(f"{e}: v{v}" for e, v in self.environments.items()) or "none"
        head = (
            f"<div><b>{escape(self.kind)} {escape(self.ref)}</b> (latest v{self.latest_version}; "
            f"environments {escape(envs)}; by {escape(self.created_by)})</div>"
        )
        if isinstance(declared, FeatureSet):
            return head + declared._repr_html_()
        return head + f"<pre>{escape(json.dumps(self.spec, indent=2, default=str))}</pre>"


class PlanItem(BaseModel):
    """What applying one definition does: add it, change it (a new version) or nothing."""

    model_config = _STORED
    kind: str
    name: str
    action: Literal["add", "change", "unchanged"]
    version: int | None = Field(None, description="the version stored now, if any")
    new_version: int | None = Field(None, description="the version applying makes or keeps")
    changes: list[str] = Field(default_factory=list)


class FeaturePlan(BaseModel):
    """The plan of an apply (or its result, when applied is true)."""

    model_config = _STORED
    project: str
    applied: bool
    items: list[PlanItem]

    @property
    def changed(self) -> bool:
        """True when applying would add or change anything."""
        return any(item.action != "unchanged" for item in self.items)


class FeatureCheck(BaseModel):
    """A feature set version's data checks run on its source, with the source's freshness."""

    model_config = _STORED
    id: int
    name: str
    version: int
    passed: bool
    outcomes: list[CheckOutcome]
    rows: int
    latest_event_time: datetime | None = None
    created_by: str
    created_at: datetime


class FeatureImpact(BaseModel):
    """Which training frames and model versions read a feature (what breaks if it changes)."""

    model_config = _STORED
    feature: str
    training_sets: list[str]
    model_versions: list[str]
