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

How: times become dense ranks, so that (entity, time) is one int64 key. Source rows sorted by
(entity, event time) (ties: created time, then position) give each row its priority. Without
as-of-known, the last source row at or before an entity row's (entity, T) is its answer; with
it, rows are sorted by (entity, available time) (the later of event and created time) and a
running maximum of the priority gives, at every position, the best row available so far. One
or two quicksorts of the n source rows, one of the m entity rows, and binary searches:
O(n log n + m log m).
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


def _dense(*arrays: np.ndarray) -> list[np.ndarray]:
    """Each array's values as their rank among the distinct values of all of them (ties equal)."""
    _, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    inverse = inverse.astype(np.int64).ravel()
    cuts = np.cumsum([len(a) for a in arrays])[:-1]
    return list(np.split(inverse, cuts))


def _entity_major(key: np.ndarray, created: np.ndarray | None) -> np.ndarray:
    """The rows sorted by key (entity, time), ties by created time, then position."""
    order = np.argsort(key)
    sorted_key = key[order]
    tied = np.zeros(len(key), dtype=bool)
    same = sorted_key[1:] == sorted_key[:-1]
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():  # rare: rows of one entity at one time; order just those by the tie rules
        where = np.flatnonzero(tied)
        rows = order[where]
        tiebreak = np.zeros(len(rows), dtype=np.int64) if created is None else created[rows]
        order[where] = rows[np.lexsort((rows, tiebreak, key[rows]))]
    return order


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
    if as_of_known and source.created is None:
        raise InvalidInput(
            "as_of_known=True needs the feature set's created_time column; declare "
            "created_time='...' on the feature set or join by event time alone."
        )
    usable = (source.codes >= 0) & (source.event != _NAT)
    valid = (entity_codes >= 0) & (entity_times != _NAT)
    if m == 0 or not usable.any() or not valid.any():
        return result
    rows = np.flatnonzero(usable)
    codes, event = source.codes[rows], source.event[rows]
    created = None
    if source.created is not None:
        created = source.created[rows]
        created = np.where(created == _NAT, event, created)
    codes_e, times_e = entity_codes[valid], entity_times[valid]
    available = np.maximum(event, created) if as_of_known and created is not None else event
    # times as dense ranks, so that (entity, time) fits one int64 key
    rank_event, rank_available, rank_t = _dense(event, available, times_e)
    span = int(max(rank_event.max(), rank_available.max(), rank_t.max())) + 2
    order = _entity_major(codes * span + rank_event, created)
    n = len(rows)
    prio = np.empty(n, dtype=np.int64)  # ascending by (entity, event, created, position)
    prio[order] = np.arange(n, dtype=np.int64)
    if as_of_known:  # by (entity, available time); the best so far is a running maximum
        key = codes * span + rank_available
        order = np.argsort(key)
        best = np.maximum.accumulate(prio[order])  # an entity's priorities exceed the last's
    else:
        key = codes * span + rank_event
        best = prio[order]
    key_src, codes_s = key[order], codes[order]
    # for each entity row, the last source position at or before (entity, T)
    query = codes_e * span + rank_t
    by_query = np.argsort(query)  # sorted queries search faster
    pos = np.empty(len(query), dtype=np.int64)
    pos[by_query] = np.searchsorted(key_src, query[by_query], side="right") - 1
    hit = pos >= 0
    hit[hit] = codes_s[pos[hit]] == codes_e[hit]
    row_of_prio = np.empty(n, dtype=np.int64)
    row_of_prio[prio] = np.arange(n, dtype=np.int64)
    found = np.full(len(query), -1, dtype=np.int64)
    found[hit] = rows[row_of_prio[best[pos[hit]]]]
    if ttl_ns is not None:
        stale = found >= 0
        stale[stale] = source.event[found[stale]] < times_e[stale] - ttl_ns
        found[stale] = -1
    result[valid] = found
    return result
