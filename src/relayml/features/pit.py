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

Here: times as int64 nanoseconds (``time_ns``), and rows sorted by (key code, event time) with
ties by created time, then position (``by_key_and_time``): the key, the time coarsened to fit
and the row's position are packed in one int64, so that one plain ``np.sort`` (several times
faster than ``argsort``; from 2**18 rows, a piece per core sorted at once, then merged) sorts and
gives the order with it; only rows whose coarse times tie are sorted again by their exact times.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput
from relayml.features.pit_threads import cores, in_threads

__all__ = ["by_key_and_time", "time_ns"]

_NAT = np.iinfo(np.int64).min
_BITS = 63  # what a key plus a position may use of an int64
_PARALLEL_SORT = 1 << 18  # rows from which a sort is split over the cores


def time_ns(values: pd.Series | pd.Index, what: str) -> np.ndarray:
    """Times as int64 nanoseconds since the epoch in UTC (naive times are UTC); NaT is int64 min."""
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        # already times: their int64 is nanoseconds in UTC once in ns (naive ones are UTC)
        index = pd.DatetimeIndex(values)  # as_unit copies even when the unit is already ns
        return np.asarray((index if index.unit == "ns" else index.as_unit("ns")).asi8, np.int64)
    try:
        stamps = pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{what} must hold timestamps: {exc}.") from None
    index = pd.DatetimeIndex(stamps).tz_convert("UTC").tz_localize(None).as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def _sort(values: np.ndarray) -> None:
    """Sort values (int64) in place: in one piece per core, on the cores at once, then the
    sorted pieces merged (a stable sort finds them as runs: one linear pass)."""
    parts = min(cores(), 4)
    if parts < 2 or len(values) < _PARALLEL_SORT:
        values.sort()
        return
    bounds = np.linspace(0, len(values), parts + 1).astype(np.int64)
    in_threads(lambda piece: piece.sort(), [values[a:b] for a, b in itertools.pairwise(bounds)])
    values.sort(kind="stable")


def by_key_and_time(
    codes: np.ndarray, times: np.ndarray, created: np.ndarray | None, card: int
) -> np.ndarray:
    """The order of the rows by (code, time), ties by created time, then position (codes in
    [0, card), times int64 ns). One plain ``np.sort`` of (code, time coarsened to fit, position)
    packed in an int64 gives it, but for the few rows whose coarse keys tie: those are put in
    order by their exact times (and created times) with a lexsort of just them."""
    n = len(codes)
    position = max(1, (n - 1).bit_length())
    room = _BITS - max(1, (card - 1).bit_length()) - position
    if room < 8:  # no room left to pack a time: a lexsort of every row
        return np.lexsort((times, codes) if created is None else (created, times, codes))
    start = int(times.min()) if n else 0
    span = (int(times.max()) - start) if n else 0
    shift = max(0, span.bit_length() - room)
    # packed in two buffers, each step in place (no temporary per step: on a million rows each
    # is 8 MB of new memory to fault in); times counted from the earliest in uint64 (no overflow
    # over any span)
    packed = np.subtract(times.view(np.uint64), np.uint64(start % 2**64))
    np.right_shift(packed, np.uint64(shift), out=packed)
    packed = packed.view(np.int64)
    np.left_shift(packed, position, out=packed)
    spare = np.arange(n, dtype=np.int64)
    packed |= spare
    packed |= np.left_shift(codes, room + position, out=spare)
    _sort(packed)
    order: np.ndarray = np.bitwise_and(packed, (1 << position) - 1, out=spare)
    if shift == 0 and created is None:  # exact times: ties are in position order already
        return order
    group = np.right_shift(packed, position, out=packed)
    same = group[1:] == group[:-1]
    if not same.any():
        return order
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    where = np.flatnonzero(tied)
    rows = order[where]
    exact = (rows, times[rows], group[where])
    order[where] = rows[np.lexsort(exact if created is None else (rows, created[rows], *exact[1:]))]
    return order
