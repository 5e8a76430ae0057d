"""A table's profile (pyarrow + numpy, no row loops); its canonical form and content hash are
relayml.data.canonical's.

A profile gives per column its type, count, nulls and distinct values, and by kind:
numbers (min, max, mean, std, quantiles, a 20-bin histogram), strings and categories (the 10
most frequent values, lengths), booleans (true/false counts), dates and times (min, max).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relayml.data.canonical import column_kind, map_columns

__all__ = [
    "BINS",
    "QUANTILES",
    "TOP_VALUES",
    "histogram_of",
    "profile_column",
    "profile_table",
]

QUANTILES: dict[str, float] = {
    "p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99,
}  # fmt: skip
BINS = 20
TOP_VALUES = 10
_MAX_TEXT = 200  # characters of a top value kept in a profile


# -- profile ---------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    result = float(value)
    return result if math.isfinite(result) else None


def _quantile(ordered: np.ndarray, q: float) -> float:
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    lo, hi = float(ordered[low]), float(ordered[high])
    return lo + (hi - lo) * (position - low)


def histogram_of(ordered: np.ndarray) -> dict[str, list[Any]]:
    """20 equal-width bins between min and max of sorted finite values; the last bin is closed."""
    lo, hi = float(ordered[0]), float(ordered[-1])
    if lo == hi:
        return {"edges": [lo, hi], "counts": [len(ordered)]}
    edges = np.linspace(lo, hi, BINS + 1)
    cuts = edges[1:-1]
    if ordered.dtype.kind in "iu":  # compare in the integers: no float copy of the data
        cuts = np.ceil(cuts).astype(ordered.dtype)
    inner = np.searchsorted(ordered, cuts, side="left")
    counts = np.diff(np.concatenate(([0], inner, [len(ordered)])))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _numeric(column: pa.ChunkedArray, stats: dict[str, Any]) -> None:
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    values = column.drop_null()
    if pa.types.is_dictionary(values.type):
        values = values.cast(kind)
    if pa.types.is_decimal(kind) or pa.types.is_float16(kind):
        values = values.cast(pa.float64())
    single = values.num_chunks == 1
    raw = values.chunk(0).to_numpy(zero_copy_only=False) if single else values.to_numpy()
    infinite_kinds = 0
    if raw.dtype.kind == "f":
        stats["nan"] = stats["infinite"] = 0
        if not np.isfinite(raw).all():
            positive, negative = np.isposinf(raw), np.isneginf(raw)
            stats["nan"] = int(np.isnan(raw).sum())
            stats["infinite"] = int(positive.sum() + negative.sum())
            infinite_kinds = int(positive.any()) + int(negative.any())
            raw = raw[np.isfinite(raw)]
            values = pa.chunked_array([raw], type=pa.float64())
    ordered = np.sort(raw)
    n = len(ordered)
    distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1 if n else 0
    stats["distinct"] = distinct + infinite_kinds
    if n == 0:
        stats.update(min=None, max=None, mean=None, std=None, quantiles=None, histogram=None)
        return
    exact = pa.types.is_integer(kind)
    stats["min"] = int(ordered[0]) if exact else _number(ordered[0])
    stats["max"] = int(ordered[-1]) if exact else _number(ordered[-1])
    stats["mean"] = _number(pc.mean(values).as_py())
    stats["std"] = _number(pc.stddev(values, ddof=1).as_py()) if n > 1 else None
    stats["quantiles"] = {name: _quantile(ordered, q) for name, q in QUANTILES.items()}
    stats["histogram"] = histogram_of(ordered)


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.hex()
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        return value[: _MAX_TEXT - 1] + "…"
    return value


def _top(counted: pa.StructArray) -> tuple[list[dict[str, Any]], np.ndarray, pa.Array]:
    values = counted.field("values")
    counts = counted.field("counts").to_numpy(zero_copy_only=False)
    if len(counts) > TOP_VALUES:
        kth = np.partition(counts, len(counts) - TOP_VALUES)[len(counts) - TOP_VALUES]
        candidates = np.flatnonzero(counts >= kth)  # in order of first appearance
    else:
        candidates = np.arange(len(counts))
    order = candidates[np.argsort(-counts[candidates], kind="stable")][:TOP_VALUES]
    picked = values.take(pa.array(order)).to_pylist()
    top = [{"value": _text(v), "count": int(c)} for v, c in zip(picked, counts[order], strict=True)]
    return top, counts, values


def _categorical(column: pa.ChunkedArray, stats: dict[str, Any]) -> None:
    counted = pc.value_counts(column.drop_null())
    if pa.types.is_dictionary(column.type):  # unused categories count 0
        counted = counted.filter(pc.greater(counted.field("counts"), 0))
    top, counts, values = _top(counted)
    stats["distinct"] = len(counts)
    stats["top"] = top
    if not len(counts):
        stats.update(min_length=None, max_length=None, mean_length=None)
        return
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    length = pc.utf8_length if column_kind(values.type) == "string" else pc.binary_length
    lengths = length(values).to_numpy(zero_copy_only=False)
    stats["min_length"] = int(lengths.min())
    stats["max_length"] = int(lengths.max())
    stats["mean_length"] = _number((lengths * counts).sum() / counts.sum())


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.isoformat()) if hasattr(value, "isoformat") else str(value)


def profile_column(column: pa.ChunkedArray | pa.Array) -> dict[str, Any]:
    """The profile of one column (see the module docstring)."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    kind = column_kind(column.type)
    nulls = column.null_count
    stats: dict[str, Any] = {
        "type": str(column.type),
        "kind": kind,
        "count": len(column) - nulls,
        "nulls": nulls,
    }
    if kind == "numeric":
        _numeric(column, stats)
    elif kind in ("string", "binary"):
        _categorical(column, stats)
    elif kind == "boolean":
        true = pc.sum(column).as_py() or 0
        stats.update(true=int(true), false=stats["count"] - int(true))
        stats["distinct"] = int(stats["true"] > 0) + int(stats["false"] > 0)
    elif kind == "temporal":
        bounds = pc.min_max(column)
        stats["min"] = _iso(bounds["min"].as_py())
        stats["max"] = _iso(bounds["max"].as_py())
        stats["distinct"] = pc.count_distinct(column).as_py()
    elif kind == "null":
        stats["distinct"] = 0
    return stats


def profile_table(table: pa.Table) -> dict[str, Any]:
    """{"rows": n, "columns": {name: column profile}} in column order."""
    profiles = map_columns(profile_column, table.columns)
    return {"rows": table.num_rows, "columns": dict(zip(table.column_names, profiles, strict=True))}
