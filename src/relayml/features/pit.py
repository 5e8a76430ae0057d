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

How: the entity frame is prepared once for every feature set joined to it (:class:`EntityRows`):
its join keys become codes 0..u-1 and its rows are sorted by (code, time). A source's keys get
the entity frame's codes (rows of other entities are dropped at once) and its event times dense
ranks, so that (code, rank) is one int64; each key is shifted left and the row's position put in
the low bits, so that one plain ``np.sort`` (vectorised, several times faster than ``argsort``)
sorts by (entity, event time, position) and gives the order with it. An entity row's key is
(code, number of distinct event times at or before T): a binary search of the sorted keys finds
the last source row at or before it; with sorted queries the search is cache friendly. As-of-known
sorts the rows a second time by (entity, available time), the later of event and created time,
and a running maximum of the first order's rank gives, at every position, the best row available
so far. One argsort and one sort of the n source rows per feature set (two of each as-of-known),
binary searches for the m entity rows: O(n log n + m log n); no Python loop per row or entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput

__all__ = [
    "EntityRows",
    "SourceFrame",
    "as_of_indices",
    "as_of_rows",
    "entity_rows",
    "key_codes",
    "source_codes",
    "time_ns",
]

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

    codes: np.ndarray  # int64 entity code per row, -1: missing key (or an entity not joined)
    event: np.ndarray  # int64 ns, int64 min: missing
    created: np.ndarray | None  # int64 ns or None when the set has no created time


@dataclass(frozen=True)
class EntityRows:
    """The entity rows reduced to what the join needs, sorted once for every feature set."""

    codes: np.ndarray  # int64 code per row in 0..card-1, -1: a missing key
    times: np.ndarray  # int64 ns, int64 min: missing
    card: int  # codes are below this
    out: np.ndarray  # the rows with a key and a time, sorted by (code, time)
    distinct: np.ndarray  # the distinct times of `out`'s rows, ascending
    time_of: np.ndarray  # for each of `out`, the position of its time in distinct
    uniques: tuple[np.ndarray | pd.Index, ...] = ()  # each key's values, by code
    pairs: tuple[pd.Index, ...] = ()  # with several keys: the pairs of codes, by code


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


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray | pd.Index]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), uniques


def _codes_of(values: pd.Series, uniques: np.ndarray | pd.Index, entity: pd.Series) -> np.ndarray:
    """The entity frame's code of each value, -1 for a value it does not hold or a missing one."""
    if values.dtype.kind in "iu" and entity.dtype.kind in "iu":  # a hash lookup of numbers
        return np.asarray(pd.Index(uniques).get_indexer(values), dtype=np.int64)
    # anything else: factorised after the entity column, whose values come first and so keep
    # their codes; the rest are entities not in the frame
    both = pd.concat([entity.reset_index(drop=True), values.reset_index(drop=True)])
    codes = _factorize(both)[0][len(entity) :]
    codes[codes >= len(uniques)] = -1
    return codes


def _sort_queries(codes: np.ndarray, times: np.ndarray, **known: object) -> EntityRows:
    valid = np.flatnonzero((codes >= 0) & (times != _NAT))
    card = int(codes.max()) + 1 if len(codes) else 0
    t_rank, distinct = _dense(times[valid])
    order = _sorted_keys(codes[valid] * (len(distinct) + 1) + t_rank, card * (len(distinct) + 1))
    out = valid[order[1]]
    return EntityRows(codes, times, card, out, distinct, t_rank[order[1]], **known)  # type: ignore[arg-type]


def entity_rows(entity: pd.DataFrame, event_time: str, keys: Sequence[str]) -> EntityRows:
    """The entity frame's keys as codes and its rows sorted by (key, time), for any feature set."""
    times = time_ns(entity[event_time], f"entity frame column {event_time!r}")
    uniques: list[np.ndarray | pd.Index] = []
    pairs: list[pd.Index] = []
    codes: np.ndarray | None = None
    for key in keys:
        column_codes, column_uniques = _factorize(entity[key])
        uniques.append(column_uniques)
        if codes is None:
            codes = column_codes
            continue
        missing = (codes < 0) | (column_codes < 0)
        pair = codes * len(column_uniques) + column_codes
        codes, pair_uniques = _factorize(pd.Series(pair))
        codes[missing] = -1
        pairs.append(pd.Index(pair_uniques))
    assert codes is not None
    return _sort_queries(codes, times, uniques=tuple(uniques), pairs=tuple(pairs))


def source_codes(
    entities: EntityRows, entity: pd.DataFrame, source: pd.DataFrame, keys: Sequence[str]
) -> np.ndarray:
    """Each source row's entity code in the entity frame's codes; -1 for an entity not in it."""
    codes: np.ndarray | None = None
    for i, key in enumerate(keys):
        column = _codes_of(source[key], entities.uniques[i], entity[key])
        if codes is None:
            codes = column
            continue
        missing = (codes < 0) | (column < 0)
        pair = codes * len(entities.uniques[i]) + column
        codes = np.asarray(entities.pairs[i - 1].get_indexer(pair), dtype=np.int64)
        codes[missing] = -1
    assert codes is not None
    return codes


def as_of_indices(
    entity_codes: np.ndarray,
    entity_times: np.ndarray,
    source: SourceFrame,
    *,
    as_of_known: bool = False,
    ttl_ns: int | None = None,
) -> np.ndarray:
    """For each entity row the index of its source row, or -1 when it has none (see module);
    codes shared by both sides (key_codes)."""
    entities = _sort_queries(
        np.asarray(entity_codes, dtype=np.int64), np.asarray(entity_times, dtype=np.int64)
    )
    top = int(source.codes.max(initial=-1)) + 1  # the source may hold codes the entities lack
    entities = replace(entities, card=max(entities.card, top))
    return as_of_rows(entities, source, as_of_known=as_of_known, ttl_ns=ttl_ns)


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


def _search(
    sorted_keys: np.ndarray, distinct: np.ndarray, span: int, entities: EntityRows
) -> tuple[np.ndarray, np.ndarray]:
    """For each of entities.out the position in sorted_keys of the last row at or before its
    (code, time), and whether that row is one of its entity's (else the position is -1)."""
    # the number of distinct times at or before each query time, in query order
    counts = np.searchsorted(distinct, entities.distinct, side="right")[entities.time_of]
    base = entities.codes[entities.out] * span  # an entity's keys are base + 1 .. base + span - 1
    position = np.searchsorted(sorted_keys, base + counts, side="right") - 1
    hit = sorted_keys[np.maximum(position, 0)] > base  # (a key at or below base: another entity)
    hit &= position >= 0
    return np.where(hit, position, -1), hit


def as_of_rows(
    entities: EntityRows,
    source: SourceFrame,
    *,
    as_of_known: bool = False,
    ttl_ns: int | None = None,
) -> np.ndarray:
    """For each entity row the index of its source row, or -1 when it has none (see module)."""
    m = len(entities.codes)
    result = np.full(m, -1, dtype=np.int64)
    if as_of_known and source.created is None:
        raise InvalidInput(
            "as_of_known=True needs the feature set's created_time column; declare "
            "created_time='...' on the feature set or join by event time alone."
        )
    usable = (source.codes >= 0) & (source.codes < entities.card) & (source.event != _NAT)
    if not len(entities.out) or not usable.any():
        return result
    rows = None if usable.all() else np.flatnonzero(usable)  # None: all of them
    codes = source.codes if rows is None else source.codes[rows]
    event = source.event if rows is None else source.event[rows]
    created = None
    if source.created is not None:
        created = source.created if rows is None else source.created[rows]
        created = np.where(created == _NAT, event, created)
    keys, order, distinct, span = _by_key_and_time(codes, event, created, entities.card)
    if as_of_known:  # by (code, available time); the best so far is a running maximum
        assert created is not None
        rank = np.empty(len(order), dtype=np.int64)  # each row's place in the first order
        rank[order] = np.arange(len(order), dtype=np.int64)
        keys, by_available, distinct, span = _by_key_and_time(
            codes, np.maximum(event, created), None, entities.card
        )
        position, hit = _search(keys, distinct, span, entities)
        best = np.maximum.accumulate(rank[by_available])  # an entity's ranks exceed the last's
        found = np.where(hit, order[best[position]], -1)
    else:
        position, hit = _search(keys, distinct, span, entities)
        found = np.where(hit, order[position], -1)
    if rows is not None:
        found = np.where(hit, rows[found], -1)
    if ttl_ns is not None:
        times = entities.times[entities.out]
        age = times.view(np.uint64) - source.event[np.where(found >= 0, found, 0)].view(np.uint64)
        stale = (found >= 0) & (age > np.uint64(min(max(ttl_ns, 0), 2**64 - 1)))
        found[stale] = -1
    result[entities.out] = found
    return result
