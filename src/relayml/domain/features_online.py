"""The online feature store's answers: a materialisation's summary and looked-up values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["Materialization", "OnlineRow", "OnlineValues"]


class Materialization(BaseModel):
    """What one materialisation wrote to the online table of an environment."""

    project: str
    feature_set: str
    version: int
    environment: str
    written: int = Field(description="entities whose row was written (new or newer values)")
    entities: int = Field(description="entities in the online table after it")
    full: bool = Field(description="True: every row was rewritten (first run, or a new version)")
    since: datetime | None = Field(description="source rows from this event time on were read")
    latest_event_time: datetime | None


class OnlineRow(BaseModel):
    """One entity's values (None where missing, with the reason in ``missing``)."""

    key: str
    values: dict[str, Any]
    event_time: datetime | None
    missing: dict[str, str] = Field(default_factory=dict, description="feature: why it is null")


class OnlineValues(BaseModel):
    """The online values of entities of a feature set, in the order asked."""

    project: str
    feature_set: str
    version: int | None = Field(description="the version that wrote the values (None: no row)")
    environment: str
    looked_up_at: datetime
    rows: list[OnlineRow]
