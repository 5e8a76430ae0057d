"""The point-in-time join's rules and the sorting it is built on (the join: pit_index.py).

Rules (docs/features.md):

- a source row counts for an entity row at time T when its event time is at or before T and,
  as-of-known, its created time is at or before T too (a row without a created time counts as
  created at its event time);
- of the rows that count, the one with the latest event time wins; rows with the same entity and
  event time are ordered by created time, then by their position in the source: the latest
  created wins, then the last row;
- a value whose event time is more than ``ttl`` before T is missing, as is an entity never seen;
- source rows with a missing key or event time are never used.

Here: times as int64 nanoseconds (``time_ns``), and rows sorted by (key code, event time rank)
with ties by created time, then position (``_by_key_and_time``): each key is shifted left and
the row's position put in the low bits, so that one plain ``np.sort`` (several times faster than
``argsort``) sorts and gives the order with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput

__all__ = ["time_ns"]

_NAT = np.iinfo(np.int64).min
_BITS = 63  # what a key plus a position may use of an int64


def time_ns(values: pd.Series | pd.Index, what: str) -> np.ndarray:
    """Times as int64 nanoseconds since the epoch in UTC (naive times are UTC); NaT is int64 min."""
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        # already times: their int64 is nanoseconds in UTC once in ns (naive ones are UTC)
        return np.asarray(pd.DatetimeIndex(values).as_unit("ns").asi8, dtype=np.int64)
    try:
        stamps = pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{what} must hold timestamps: {exc}.") from None
    index = pd.DatetimeIndex(stamps).tz_convert("UTC").tz_localize(None).as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def _sorted_keys(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """keys (non-negative, below bound) in ascending order, ties by position, and that order."""
    n = len(keys)
    shift = max(1, (n - 1).bit_length())
    if (bound - 1).bit_length() + shift <= _BITS:  # the position in the low bits: a plain sort
        packed = np.sort((keys << shift) | np.arange(n, dtype=np.int64))
        return packed >> shift, packed & ((1 << shift) - 1)
    order = np.argsort(keys, kind="stable")
    return keys[order], order


def _dense(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's rank among the distinct values (ties equal), and the distinct values."""
    order = np.argsort(values)
    ordered = values[order]
    new = np.empty(len(values), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    return ranks, ordered[new]


def _tie_break(
    sorted_keys: np.ndarray, order: np.ndarray, created: np.ndarray | None
) -> np.ndarray:
    """order with rows of equal key ordered by created time, then position (rare: same entity,
    same event time)."""
    if created is None or len(order) < 2:
        return order
    same = sorted_keys[1:] == sorted_keys[:-1]
    if not same.any():
        return order
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    where = np.flatnonzero(tied)
    rows = order[where]
    order = order.copy()
    order[where] = rows[np.lexsort((rows, created[rows], sorted_keys[where]))]
    return order


def _by_key_and_time(
    codes: np.ndarray, times: np.ndarray, created: np.ndarray | None, card: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The rows' (code, time rank) keys sorted, the order that sorts them (ties by created time,
    then position), the distinct times ascending and the span of the ranks."""
    ranks, distinct = _dense(times)
    span = len(distinct) + 1
    sorted_keys, order = _sorted_keys(codes * span + ranks + 1, card * span)
    return sorted_keys, _tie_break(sorted_keys, order, created), distinct, span
