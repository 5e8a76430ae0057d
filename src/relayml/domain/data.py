"""Entities of the data side: datasets and their versions, data checks, pipelines, lineage."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relayml.errors import InvalidInput

__all__ = [
    "CheckOutcome",
    "DataCheckReport",
    "Dataset",
    "DatasetRef",
    "DatasetVersion",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "PipelineRun",
    "StepRun",
    "parse_dataset_ref",
]

_CONFIG = ConfigDict(ser_json_inf_nan="strings", frozen=True)


class Dataset(BaseModel):
    """A named dataset of a project."""

    model_config = _CONFIG
    id: int
    project: str
    name: str
    description: str = ""
    created_at: datetime
    latest_version: int | None = None


class DatasetVersion(BaseModel):
    """An immutable version of a dataset, stored as Parquet, identified by its content."""

    model_config = _CONFIG
    id: int
    project: str
    dataset: str
    version: int
    content_hash: str = Field(description="sha256 of the canonical form: the same data, one hash")
    sha256: str = Field(description="sha256 of the stored Parquet blob")
    rows: int
    columns: int
    table_schema: list[dict[str, Any]] = Field(description="[{name, type, nullable}]")
    profile: dict[str, Any] = Field(description="per column: type, count, nulls, stats, histogram")
    source: dict[str, Any] = Field(description="kind (pandas, arrow, parquet, csv, sql), uri")
    created_by: str
    created_at: datetime

    @property
    def ref(self) -> str:
        """The reference users type: name@version."""
        return f"{self.dataset}@{self.version}"


class DatasetRef(BaseModel):
    """A parsed dataset reference: name@3, name@latest, or name (latest)."""

    model_config = _CONFIG
    name: str
    version: int | None = None


_REF = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_\-.]*)(?:@(?P<v>[^@/]+))?$")


def parse_dataset_ref(text: str) -> DatasetRef:
    """Parse 'customers@3', 'customers@latest' or 'customers'."""
    match = _REF.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a dataset reference; write name@version (customers@3), "
            "name@latest, or a name alone for its latest version."
        )
    version = match.group("v")
    if version is None or version == "latest":
        return DatasetRef(name=match.group("name"))
    if not version.isdigit() or int(version) < 1:
        raise InvalidInput(
            f"{text!r}: the version after '@' must be a whole number from 1 or 'latest'."
        )
    return DatasetRef(name=match.group("name"), version=int(version))


class CheckOutcome(BaseModel):
    """One data check: passed or not, how many rows failed, and a few of them."""

    model_config = _CONFIG
    name: str
    column: str | None = None
    passed: bool
    failing_rows: int = 0
    examples: list[dict[str, Any]] = Field(default_factory=list)
    detail: str = ""


class DataCheckReport(BaseModel):
    """The result of running a set of data checks on a dataset version."""

    model_config = _CONFIG
    id: int
    dataset: str
    version: int
    passed: bool
    outcomes: list[CheckOutcome]
    created_by: str
    created_at: datetime


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


class LineageNode(BaseModel):
    """Something lineage links: a relay entity or an external dataset/job (OpenLineage)."""

    model_config = _CONFIG
    kind: str
    key: str
    label: str = ""
    facets: dict[str, Any] = Field(default_factory=dict)


class LineageEdge(BaseModel):
    """src --relation--> dst, e.g. dataset_version --input_of--> run."""

    model_config = _CONFIG
    src_kind: str
    src_key: str
    dst_kind: str
    dst_key: str
    relation: str


class LineageGraph(BaseModel):
    """The part of the lineage graph around one node, upstream and downstream."""

    model_config = _CONFIG
    root: LineageNode
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    depth: int
    truncated: bool = False
