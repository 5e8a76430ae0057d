"""Entities of the model risk views: the model inventory and generated model risk reports.

Risk tiers and their review cadence live here (no I/O): a model's next review is due one cadence
after its last validation. The cadence is a default per tier until the project's policy file can
name its own (see docs/reports.md).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from relayml.errors import InvalidInput

__all__ = [
    "CARD_TEXT_LIMIT",
    "REPORT_FORMATS",
    "REVIEW_CADENCE",
    "RISK_TIERS",
    "InventoryEntry",
    "ModelCard",
    "ModelCardText",
    "ModelReport",
    "ServedStretch",
    "check_card_text",
    "check_format",
    "check_tier",
    "review_due",
]

_CONFIG = ConfigDict(ser_json_inf_nan="strings", frozen=True)

RISK_TIERS = ("high", "medium", "low")
# Days between reviews per tier; a model without a tier is reviewed as often as a high one.
REVIEW_CADENCE: dict[str, int] = {"high": 90, "medium": 180, "low": 365, "unrated": 90}
REPORT_FORMATS = ("html", "md", "pdf")


def check_tier(tier: str) -> str:
    """The tier, lower-cased, or InvalidInput naming the tiers."""
    value = tier.strip().lower() if isinstance(tier, str) else ""
    if value not in RISK_TIERS:
        raise InvalidInput(f"unknown risk tier {tier!r}; use one of {', '.join(RISK_TIERS)}.")
    return value


def check_format(fmt: str) -> str:
    """The report format, or InvalidInput naming the formats."""
    if fmt not in REPORT_FORMATS:
        raise InvalidInput(
            f"unknown report format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}."
        )
    return fmt


def review_due(
    tier: str | None, last_validation: datetime | None, cadence: dict[str, int] | None = None
) -> datetime | None:
    """When the next review is due: one cadence of the tier after the last validation (the
    project policy's `review:` days, else REVIEW_CADENCE)."""
    if last_validation is None:
        return None
    key = tier or "unrated"
    days = (cadence or {}).get(key, REVIEW_CADENCE[key])
    return last_validation + timedelta(days=days)


class ServedStretch(BaseModel):
    """A version holding an environment from when to when (None: still holds it)."""

    model_config = _CONFIG
    environment: str
    version: int
    since: datetime
    until: datetime | None = None
    days: float = Field(description="How long it held the environment, until now if it still does.")


class InventoryEntry(BaseModel):
    """One model that was ever in staging or production: status, owner, tier, reviews, alerts."""

    model_config = _CONFIG
    project: str
    model: str
    owner: str = ""
    status: Literal["production", "staging", "retired", "withdrawn"] = Field(
        description="production or staging: the highest environment held now; retired: retired "
        "on purpose; withdrawn: holds no environment but was not retired"
    )
    environments: dict[str, int] = Field(default_factory=dict, description="environment -> version")
    risk_tier: str | None = None
    risk_tier_reason: str = ""
    risk_tier_set_by: str | None = None
    risk_tier_set_at: datetime | None = None
    last_validation: datetime | None = Field(
        default=None, description="The newest evaluation or gate run of any of its versions."
    )
    next_review_due: datetime | None = None
    review_overdue: bool = False
    open_alerts: int = 0
    open_flags: int = 0
    served: list[ServedStretch] = Field(default_factory=list)
    retired_at: datetime | None = None
    retired_by: str | None = None
    retired_reason: str = ""


class ModelReport(BaseModel):
    """A generated model risk report, stored by content hash with the fingerprint of its inputs."""

    model_config = _CONFIG
    project: str
    model: str
    version: int
    format: str
    sha256: str = Field(description="Of the report file, as stored in the artifact store.")
    size: int
    fingerprint: str = Field(
        description="sha256 of the store rows the report was built from: same rows, same value."
    )
    built_at: datetime
    built_by: str
    content: str = Field(
        default="",
        description="The report itself: HTML or Markdown text; a PDF in base64 (see encoding).",
    )
    encoding: Literal["utf-8", "base64"] = "utf-8"

    def data(self) -> bytes:
        """The report file's bytes (what is stored under sha256)."""
        if self.encoding == "base64":
            return base64.b64decode(self.content)
        return self.content.encode()


CARD_TEXT_LIMIT = 20_000  # characters of each text of a model card


class ModelCardText(BaseModel):
    """The texts of a model card as someone set them, at a time."""

    model_config = _CONFIG
    intended_use: str = ""
    limitations: str = ""
    set_by: str
    set_at: datetime
    audit_id: int | None = Field(default=None, description="The audit entry of the change.")


class ModelCard(BaseModel):
    """The intended use and limitations of one model version, now and as they were before."""

    model_config = _CONFIG
    project: str
    model: str
    version: int
    current: ModelCardText | None = Field(
        default=None, description="None: nobody described this version's use yet."
    )
    history: list[ModelCardText] = Field(
        default_factory=list, description="Every text it had, oldest first (current last)."
    )


def check_card_text(label: str, text: str | None) -> str | None:
    """A card's text stripped (None: keep the current one), or InvalidInput when too long."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInput(f"{label} must be text.")
    value = text.strip()
    if len(value) > CARD_TEXT_LIMIT:
        raise InvalidInput(
            f"{label} is {len(value):,} characters; keep it under {CARD_TEXT_LIMIT:,} "
            "(link to a longer document instead)."
        )
    return value
