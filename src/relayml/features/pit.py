"""The point-in-time join, vectorised with numpy: for each entity row, the source row that held
its features at the row's event time.

Rules (docs/features.md):

- a source row counts for an entity row at time T when its event time is at or before T and,
  as-of-known, its created time is at or before T too (a row without a created time counts as
  created at its event time);
- of the rows that count, the one with the latest event time wins; rows with the same entity and
  event time are ordered by created time, then by their position in the source: the latest
  created wins, then the last row;
- a value whose event time is more than ``ttl`` before T is missing, as is an entity never seen;
- source rows with a missing key or event time are never used.

How: source rows are sorted by (entity, available time, priority), where the available time is
the event time (as-of-known: the later of event and created time) and the priority is the rank
in the order above. A running maximum of the priority within each entity gives, at every
position, the best row available so far; a binary search of each entity row's (entity, T) finds
its position. Sorting dominates: O((n + m) log(n + m)) for n source and m entity rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput

__all__ = ["SourceFrame", "as_of_indices", "key_codes", "time_ns"]

_NAT = np.iinfo(np.int64).min


def time_ns(values: pd.Series | pd.Index, what: str) -> np.ndarray:
    """Times as int64 nanoseconds since the epoch in UTC (naive times are UTC); NaT is int64 min."""
    try:
        stamps = pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{what} must hold timestamps: {exc}.") from None
    index = pd.DatetimeIndex(stamps).tz_convert("UTC").tz_localize(None).as_unit("ns")
    return np.asarray(index.asi8, dtype=np.int64)


def key_codes(
    entity: pd.DataFrame, source: pd.DataFrame, keys: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One int64 code per row for the join keys, shared by both frames; -1 for a missing key."""
    m = len(entity)
    combined: np.ndarray | None = None
    missing = np.zeros(m + len(source), dtype=bool)
    for key in keys:
        both = pd.concat(
            [entity[key].reset_index(drop=True), source[key].reset_index(drop=True)],
            ignore_index=True,
        )
        codes, uniques = pd.factorize(both, use_na_sentinel=True)
        missing |= codes < 0
        codes = codes.astype(np.int64)
        if combined is None:
            combined = codes
        else:  # re-factorise the pair so the codes stay small
            pair = combined * (len(uniques) + 1) + codes
            combined = pd.factorize(pair)[0].astype(np.int64)
    assert combined is not None
    combined[missing] = -1
    return combined[:m], combined[m:]


@dataclass(frozen=True)
class SourceFrame:
    """A feature set's rows reduced to what the join needs."""

    codes: np.ndarray  # int64 entity code per row, -1: missing key
    event: np.ndarray  # int64 ns, int64 min: missing
    created: np.ndarray | None  # int64 ns or None when the set has no created time


def _priority(source: SourceFrame) -> np.ndarray:
    """Each row's rank by (event time, created time, position): the higher wins a tie."""
    n = len(source.codes)
    position = np.arange(n, dtype=np.int64)
    created = source.created if source.created is not None else np.zeros(n, dtype=np.int64)
    created = np.where(created == _NAT, source.event, created)
    order = np.lexsort((position, created, source.event))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = position
    return rank


def as_of_indices(
    entity_codes: np.ndarray,
    entity_times: np.ndarray,
    source: SourceFrame,
    *,
    as_of_known: bool = False,
    ttl_ns: int | None = None,
) -> np.ndarray:
    """For each entity row the index of its source row, or -1 when it has none (see module)."""
    m = len(entity_codes)
    result = np.full(m, -1, dtype=np.int64)
    usable = (source.codes >= 0) & (source.event != _NAT)
    if as_of_known and source.created is None:
        raise InvalidInput(
            "as_of_known=True needs the feature set's created_time column; declare "
            "created_time='...' on the feature set or join by event time alone."
        )
    if m == 0 or not usable.any():
        return result
    rows = np.flatnonzero(usable)
    codes = source.codes[rows]
    event = source.event[rows]
    created = None if source.created is None else source.created[rows]
    prio = _priority(SourceFrame(codes, event, created))
    available = event
    if as_of_known and created is not None:
        available = np.maximum(event, np.where(created == _NAT, event, created))
    order = np.lexsort((prio, available, codes))
    codes_s, avail_s, prio_s = codes[order], available[order], prio[order]
    n = len(rows)
    # running best priority within each entity: codes ascend, so code * n + prio ascends too
    best = np.maximum.accumulate(codes_s * n + prio_s) - codes_s * n
    row_of_prio = np.empty(n, dtype=np.int64)
    row_of_prio[prio] = np.arange(n, dtype=np.int64)
    # find the last sorted position with (code, available) <= (entity code, T)
    valid = (entity_codes >= 0) & (entity_times != _NAT)
    times, inverse = np.unique(np.concatenate([avail_s, entity_times[valid]]), return_inverse=True)
    span = len(times) + 1
    key_src = codes_s * span + inverse[:n]
    key_ent = entity_codes[valid] * span + inverse[n:]
    pos = np.searchsorted(key_src, key_ent, side="right") - 1
    hit = pos >= 0
    hit[hit] = codes_s[pos[hit]] == entity_codes[valid][hit]
    found = np.full(len(key_ent), -1, dtype=np.int64)
    found[hit] = rows[row_of_prio[best[pos[hit]]]]
    if ttl_ns is not None:
        stale = found >= 0
        stale[stale] = source.event[found[stale]] < entity_times[valid][stale] - ttl_ns
        found[stale] = -1
    result[valid] = found
    return result
