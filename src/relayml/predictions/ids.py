"""Prediction ids: 12 hex digits of the time in ms, then 12 random ones (sortable by time)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from relayml.errors import InvalidInput

__all__ = ["PREDICTION_ID", "is_prediction_id", "moment_of", "new_prediction_ids"]

PREDICTION_ID = re.compile(r"^[0-9a-f]{24}$")


def new_prediction_ids(count: int, now_ms: int) -> list[str]:
    """Time-ordered ids: the time in ms (12 hex digits) then 48 random bits."""
    prefix = f"{now_ms:012x}"
    return [prefix + secrets.token_hex(6) for _ in range(count)]


def is_prediction_id(value: object) -> bool:
    """Whether a value has the shape of a prediction id."""
    return isinstance(value, str) and PREDICTION_ID.match(value) is not None


def moment_of(prediction_id: str) -> datetime:
    """When a prediction was made, read from its id; InvalidInput if it is not an id."""
    if not is_prediction_id(prediction_id):
        raise InvalidInput(
            f"{prediction_id!r} is not a prediction id: 24 hex characters, as in the "
            "prediction_ids of a /predict answer."
        )
    return datetime.fromtimestamp(int(prediction_id[:12], 16) / 1000, tz=UTC)
