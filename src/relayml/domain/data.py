"""Entities of the data side: datasets and their versions, data checks."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from relayml.errors import InvalidInput

__all__ = [
    "CheckOutcome",
    "DataCheckReport",
    "Dataset",
    "DatasetRef",
    "DatasetVersion",
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
