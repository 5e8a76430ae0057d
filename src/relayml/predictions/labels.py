"""The canonical text of a label, so predictions and outcomes compare equal across types."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["canonical_label", "canonical_labels"]


def canonical_label(value: Any) -> str | None:
    """The string used to compare a prediction with an outcome; None for a missing value."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer() and abs(number) < 2**53:
            return str(int(number))
        if isinstance(value, np.floating) and not isinstance(value, np.float64):
            return str(value)  # shortest form at the scalar's own precision (float32: "0.1")
        return repr(number)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    try:
        if value != value:  # NaN-like (NaT, Decimal NaN)
            return None
    except (TypeError, ValueError):  # pandas.NA has no truth value
        return None
    return str(value)


def canonical_labels(values: Sequence[Any] | np.ndarray) -> list[str | None]:
    """canonical_label of each value."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        values = values.to_pylist()
    elif isinstance(values, np.ndarray) and values.dtype.kind != "f":
        values = values.tolist()  # Python scalars convert faster than numpy ones
    elif isinstance(values, np.ndarray) and values.dtype == np.float64:
        values = values.tolist()
    return [canonical_label(v) for v in values]
