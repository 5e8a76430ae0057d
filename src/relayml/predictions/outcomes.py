"""Outcomes: true values of earlier predictions, checked and shaped as the outcome log's rows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from relayml.errors import InvalidInput
from relayml.predictions.ids import is_prediction_id
from relayml.predictions.labels import canonical_labels
from relayml.predictions.layout import project_partition
from relayml.predictions.writer import ParquetLog

__all__ = [
    "MAX_OUTCOMES",
    "append_outcomes",
    "check_outcomes",
    "outcome_columns",
    "plain_list",
]

MAX_OUTCOMES = 100_000


def plain_list(values: Any) -> Any:
    """A list of plain Python values from a list, tuple, numpy array or pandas Series."""
    if hasattr(values, "tolist"):
        return values.tolist()
    return list(values) if isinstance(values, tuple | range) else values


def check_outcomes(ids: Any, values: Any) -> int:
    """Refuse outcomes that cannot be joined: ids must be prediction ids, one value each."""
    if not isinstance(ids, list) or not isinstance(values, list):
        raise InvalidInput('send {"prediction_ids": [...], "values": [...]}: two lists.')
    if not ids:
        raise InvalidInput("no outcomes given: prediction_ids is empty.")
    if len(ids) != len(values):
        raise InvalidInput(
            f"{len(ids)} prediction ids but {len(values)} values; give one value per id."
        )
    if len(ids) > MAX_OUTCOMES:
        raise InvalidInput(f"at most {MAX_OUTCOMES} outcomes per call; split them.")
    for index, pid in enumerate(ids):
        if not is_prediction_id(pid):
            raise InvalidInput(
                f"prediction_ids[{index}] = {pid!r} is not a prediction id (24 hex characters, "
                "as returned in prediction_ids)."
            )
    for index, value in enumerate(values):
        if value is None or not isinstance(value, str | int | float):
            raise InvalidInput(
                f"values[{index}] is {type(value).__name__}; an outcome is a label or a number."
            )
    return len(ids)


def outcome_columns(
    ids: Sequence[str], values: Sequence[Any], now_ms: int, model: str | None, source: str
) -> dict[str, Any]:
    """The outcome log's columns: the canonical label and the number (NaN when not numeric)."""
    numbers = [
        float(v)
        if isinstance(v, int | float) and not isinstance(v, bool)
        else (1.0 if v is True else (0.0 if v is False else float("nan")))
        for v in values
    ]
    return {
        "timestamp": np.full(len(ids), now_ms, dtype=np.int64),
        "prediction_id": list(ids),
        "label": canonical_labels(list(values)),
        "value": np.array(numbers, dtype=np.float64),
        "model": [model] * len(ids),
        "source": [source] * len(ids),
    }


def append_outcomes(
    log: ParquetLog,
    project: str,
    ids: Sequence[str],
    values: Sequence[Any],
    *,
    model: str | None,
    source: str,
) -> int:
    """Check outcomes and queue them on an outcome log's writer; returns how many."""
    count = check_outcomes(ids, values)
    now_ms = time.time_ns() // 1_000_000
    log.append(project_partition(project), outcome_columns(ids, values, now_ms, model, source))
    return count
