"""A feature set's source prepared once for any number of point-in-time joins (the rules are
pit.py's; docs/features.md).

What does not depend on the entity frame is done once per source (:func:`build_index`): the
rows with a key and an event time sorted by (key, event time, created time, position), each
key's values sorted, and a search key per row: the key's index in the high bits and its event
time, counted from the source's earliest, in the low bits (shifted right when a year of
nanoseconds does not fit beside the key: equal search keys then hold times a few microseconds
apart). As-of-known adds the rows' order by (key, available time) and a running maximum over it
(:func:`known_part`). A join (:func:`join_index`) then sorts only the entity rows (once for every
set, :func:`entity_keys`), looks their keys up among the set's key values, does ONE binary
search per row with the queries in order, steps back over the few rows whose exact time is after
the row's (same search key, later time), and gathers the values.

An index keeps the source's feature columns as they came and the order that sorts them (index
position -> source row). Built from a frame in memory it keeps the frame; read from the cache
(pit_cache.py) it holds the float features as row-major matrices in the source's row order
(with a missing row at the end), so gathering a set's columns reads one short run of memory per
entity row, and the other features as a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from relayml.errors import InvalidInput
from relayml.features.pit import _NAT, by_key_and_time, time_ns
from relayml.features.pit_take import take_rows
from relayml.features.pit_threads import in_threads

__all__ = ["EntityKeys", "KnownPart", "SetIndex", "build_index", "entity_keys", "join_index"]

_ROOM = 62  # bits a key index and a time may use together
_STEP = 1 << 16  # entity rows searched or gathered at once: small temporaries, reused in cache


def _factorize_sorted(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and unique values, the values sorted when they can be (any order is correct; a
    sorted one keeps the queries of a join in order, which makes its search fast)."""
    dense = _factorize_dense(values)
    if dense is not None:
        return dense
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    except TypeError:  # values that do not compare (mixed types)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), pd.Index(uniques)


def _factorize_dense(values: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """What pd.factorize(values, sort=True) gives, for integers that span a range not much wider
    than their count (ids, most often): counted in a table of the range, no hashing; None for
    other values."""
    dtype = values.dtype
    if not (isinstance(dtype, np.dtype) and dtype.kind in "iu" and len(values)):
        return None
    array = values.to_numpy()
    low, high = int(array.min()), int(array.max())
    if high - low > 4 * len(array) + 1024:
        return None
    # each value's place in [0, high - low], computed where it cannot overflow
    if dtype.kind == "u":
        at = (array - array.dtype.type(low)).astype(np.int64, copy=False)
    else:  # one new array (not a converted copy, then the difference)
        at = np.subtract(array, np.int64(low), dtype=np.int64)
    present = np.zeros(high - low + 1, dtype=bool)
    present[at] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    uniques = np.flatnonzero(present).astype(array.dtype) + array.dtype.type(low)  # mod 2**bits
    return rank[at], pd.Index(uniques)


def _combine(columns: Sequence[pd.Series]) -> tuple[np.ndarray, list[pd.Index], list[np.ndarray]]:
    """One code per row for several key columns (-1: a key is missing), each column's values,
    and for each column after the first the sorted pairs (code so far, column code) by code."""
    codes, first = _factorize_sorted(columns[0])
    uniques, pairs = [first], []
    for column in columns[1:]:
        more, values = _factorize_sorted(column)
        missing = (codes < 0) | (more < 0)
        pair = codes * len(values) + more
        pair[missing] = -1
        codes, found = pd.factorize(pair, sort=True)
        codes = codes.astype(np.int64, copy=False)
        known = np.asarray(found, dtype=np.int64)
        if len(known) and known[0] < 0:  # the missing pair sorts first: code 0 is missing
            codes -= 1
            known = known[1:]
        uniques.append(values)
        pairs.append(known)
    return codes, uniques, pairs


@dataclass(frozen=True)
class KnownPart:
    """As-of-known: the search keys by (key, available time), the exact available times, and
    at each position the index position of the best row available so far."""

    search: np.ndarray
    available: np.ndarray
    best: np.ndarray


@dataclass(frozen=True)
class SetIndex:
    """A feature set's usable source rows, sorted, with what a join needs (see module)."""

    uniques: list[pd.Index]  # each key column's values, by key code
    pairs: list[np.ndarray]  # several keys: the sorted (code so far, column code) pairs
    search: np.ndarray  # int64, ascending: key index << bits | (time - tmin + 1) >> shift
    event: np.ndarray  # int64 ns, in index order
    created: np.ndarray | None  # int64 ns (event time where missing), or None
    tmin: int
    bits: int
    shift: int
    order: np.ndarray  # index position -> row of `frame` and `blocks`, then one more: -1 (none)
    frame: pd.DataFrame  # the feature columns (those not in blocks)
    blocks: tuple[tuple[tuple[str, ...], np.ndarray], ...] = ()  # row-major floats + a NaN row
    known: KnownPart | None = None

    def __len__(self) -> int:
        return len(self.event)


def _layout(event: np.ndarray, latest: np.ndarray, card: int) -> tuple[int, int, int]:
    """(tmin, bits, shift) of the search keys: times from the earliest event to the latest
    event or created time fit in `bits` once shifted right by `shift`."""
    bits = _ROOM - max(1, card.bit_length())
    tmin = int(event.min()) if len(event) else 0
    span = (int(latest.max()) - tmin + 2) if len(latest) else 2
    return tmin, bits, max(0, span.bit_length() - bits)


def _offset(times: np.ndarray, tmin: int, shift: int, bits: int) -> np.ndarray:
    """min((time - tmin + 1) >> shift, 2**bits - 1) for times at or after tmin, computed in
    uint64: a span of more than 2**63 ns (pandas' whole range) does not overflow."""
    since = times.view(np.uint64) - np.uint64(tmin % 2**64) + np.uint64(1)
    capped: np.ndarray = np.minimum(since >> np.uint64(shift), np.uint64((1 << bits) - 1))
    return capped.astype(np.int64)


def _keyed(kidx: np.ndarray, times: np.ndarray, tmin: int, bits: int, shift: int) -> np.ndarray:
    keyed: np.ndarray = (kidx << bits) | _offset(times, tmin, shift, bits)
    return keyed


def build_index(
    source: pd.DataFrame,
    keys: Sequence[str],
    event_time: str,
    created_time: str | None,
    name: str = "source",
) -> SetIndex:
    """The source's rows prepared for joins; its feature columns are kept as they are (name:
    the feature set's, for messages)."""
    codes, uniques, pairs = _combine([source[k] for k in keys])
    event = time_ns(source[event_time], f"{name}.{event_time}")
    usable = (codes >= 0) & (event != _NAT)
    kept = None if usable.all() else np.flatnonzero(usable)  # None: every row (no copies)
    if kept is not None:
        codes, event = codes[kept], event[kept]
    created = None
    if created_time is not None:
        created = time_ns(source[created_time], f"{name}.{created_time}")
        created = created if kept is None else created[kept]
        created = np.where(created == _NAT, event, created)
    card = (int(codes.max()) + 1) if len(codes) else 1
    order = by_key_and_time(codes, event, created, card)
    kidx, event = codes[order], event[order]
    latest = event if created is None else np.maximum(event, created)
    tmin, bits, shift = _layout(event, latest, card)
    search = _keyed(kidx, event, tmin, bits, shift)
    return SetIndex(
        uniques=uniques, pairs=pairs, search=search, event=event,
        created=None if created is None else created[order], tmin=tmin, bits=bits, shift=shift,
        order=np.append(order if kept is None else kept[order], -1), frame=source,
    )  # fmt: skip


def known_part(index: SetIndex) -> KnownPart:
    """What an as-of-known join of the index needs (its created times must be there)."""
    assert index.created is not None
    kidx = index.search >> index.bits
    available = np.maximum(index.event, index.created)
    card = (int(kidx[-1]) + 1) if len(kidx) else 1
    by_available = by_key_and_time(kidx, available, None, card)
    available = available[by_available]
    search = _keyed(kidx[by_available], available, index.tmin, index.bits, index.shift)
    return KnownPart(search, available, np.maximum.accumulate(by_available))


@dataclass(frozen=True)
class EntityKeys:
    """The entity rows reduced to what a join with any index needs, sorted once."""

    axis: pd.Index  # the entity frame's index: the joined frame's
    out: np.ndarray  # the rows with every key and a time, sorted by (key, about their time)
    times: np.ndarray  # their times (int64 ns)
    codes: list[np.ndarray]  # their codes per key column, into uniques
    uniques: list[pd.Index]


def entity_keys(entity: pd.DataFrame, event_time: str, keys: Sequence[str]) -> EntityKeys:
    """The entity frame's rows sorted by (key, time) for joins with any feature set."""
    times = time_ns(entity[event_time], f"entity frame column {event_time!r}")
    per_key = [_factorize_sorted(entity[k]) for k in keys]
    combined = per_key[0][0] if len(keys) == 1 else _combine([entity[k] for k in keys])[0]
    usable = (combined >= 0) & (times != _NAT)
    if usable.all():  # (most often) every row: no copies
        out = by_key_and_time(combined, times, None, int(combined.max(initial=0)) + 1)
    else:
        valid = np.flatnonzero(usable)
        code, at = combined[valid], times[valid]
        out = valid[by_key_and_time(code, at, None, int(code.max(initial=0)) + 1)]
    return EntityKeys(
        axis=entity.index, out=out, times=times[out],
        codes=[c[out] for c, _ in per_key], uniques=[u for _, u in per_key],
    )  # fmt: skip


def _key_index(
    entities: EntityKeys, index: SetIndex, lookups: list[np.ndarray], part: slice
) -> np.ndarray:
    """Each of entities.out[part]'s key index in the set (-1: an entity the set has no row of);
    lookups: each key column's entity values' codes in the set (-1: not there)."""
    kidx: np.ndarray = lookups[0][entities.codes[0][part]]
    for i in range(1, len(index.uniques)):
        more = lookups[i][entities.codes[i][part]]
        pairs = index.pairs[i - 1]
        pair = kidx * len(index.uniques[i]) + more
        at = np.minimum(np.searchsorted(pairs, pair), max(len(pairs) - 1, 0))
        found = (kidx >= 0) & (more >= 0) & (len(pairs) > 0)
        found &= pairs[at] == pair if len(pairs) else found
        kidx = np.where(found, at, -1)
    return kidx


def _search(
    search: np.ndarray, exact: np.ndarray, index: SetIndex, kidx: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """For each (key index, time) the position of the last row of that key at or before the
    time in (search, exact), or -1."""
    offset = _offset(times, index.tmin, index.shift, index.bits)
    query = (kidx << index.bits) | np.where(times < index.tmin, 0, offset)
    # the answers lie between those of the smallest and the largest query: search only there
    # (a part of the index that stays in cache while a chunk of sorted queries is searched)
    low, high = np.searchsorted(search, [query.min(), query.max()], side="right")
    position: np.ndarray = np.searchsorted(search[low:high], query, side="right") + (low - 1)
    at = np.maximum(position, 0)  # gathered whole (no masked copies); -1 is dropped below
    ok = (position >= 0) & ((search[at] >> index.bits) == kidx)
    late = np.flatnonzero(ok & (exact[at] > times))
    position[~ok] = -1
    while len(late):  # same search key, later time: step back (a few rows at most)
        step = position[late] - 1
        keep = step >= 0
        keep[keep] = (search[step[keep]] >> index.bits) == kidx[late[keep]]
        position[late] = np.where(keep, step, -1)
        late = late[keep]
        late = late[exact[position[late]] > times[late]]
    return position


def join_index(
    entities: EntityKeys,
    index: SetIndex,
    features: Sequence[str],
    *,
    as_of_known: bool = False,
    ttl_ns: int | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """The features' values for each entity row (missing: null), indexed like the entity frame;
    chunks of rows searched, then gathered, on up to `workers` threads (default: the cores),
    each chunk writing its own rows of the result."""
    rows = np.full(len(entities.axis), -1, dtype=np.int64)  # source row per row, -1: none
    if len(index):
        lookups = [
            np.asarray(mine.get_indexer(theirs), dtype=np.int64)
            for mine, theirs in zip(index.uniques, entities.uniques, strict=True)
        ]

        def search(part: slice) -> None:
            found = _found(entities, index, lookups, part, as_of_known, ttl_ns)
            rows[entities.out[part]] = index.order[found]  # -1: the order's last entry, -1

        in_threads(search, _chunks(len(entities.out)), workers)
    return _gather(index, list(features), rows, entities.axis, workers)


def _chunks(n: int) -> list[slice]:
    return [slice(start, start + _STEP) for start in range(0, n, _STEP)]


def _found(
    entities: EntityKeys,
    index: SetIndex,
    lookups: list[np.ndarray],
    part: slice,
    as_of_known: bool,
    ttl_ns: int | None,
) -> np.ndarray:
    """The index position that answers each of entities.out[part] (-1: none)."""
    kidx = _key_index(entities, index, lookups, part)
    found = np.full(len(kidx), -1, dtype=np.int64)
    seen = np.flatnonzero(kidx >= 0)
    if not len(seen):
        return found
    times, kidx = entities.times[part][seen], kidx[seen]
    if as_of_known:
        known = index.known
        assert known is not None
        position = _search(known.search, known.available, index, kidx, times)
        hit = position >= 0
        position[hit] = known.best[position[hit]]
    else:
        position = _search(index.search, index.event, index, kidx, times)
    if ttl_ns is not None:
        age = times.view(np.uint64) - index.event[np.maximum(position, 0)].view(np.uint64)
        position[age > np.uint64(min(max(ttl_ns, 0), 2**64 - 1))] = -1
    found[seen] = position
    return found


def _gather(
    index: SetIndex, features: list[str], rows: np.ndarray, axis: pd.Index, workers: int | None
) -> pd.DataFrame:
    """The feature values of source rows `rows` (-1: missing), one column per feature."""
    frames, taken = [], set()
    for names, block in index.blocks:
        wanted = [n for n in features if n in names]
        if not wanted:
            continue
        values = np.empty((len(rows), block.shape[1]), dtype=block.dtype)

        def take(at: slice, block: np.ndarray = block, values: np.ndarray = values) -> None:
            # -1 wraps to the last row, all NaN; 'wrap' (every row is in range) also writes
            # straight into out, where the default mode buffers it in a copy first
            np.take(block, rows[at], axis=0, out=values[at], mode="wrap")

        in_threads(take, _chunks(len(rows)), workers)
        frame = pd.DataFrame(values, columns=list(names), index=axis, copy=False)
        frames.append(frame if len(wanted) == len(names) else frame[wanted])
        taken.update(wanted)
    others = [n for n in features if n not in taken]
    if others or not frames:
        frames.append(take_rows(index.frame, others, rows, axis))
    out = frames[0] if len(frames) == 1 else pd.concat(frames, axis=1)
    return out if list(out.columns) == features else out[features]


def float_blocks(
    frame: pd.DataFrame, names: Sequence[str], step: int = 1 << 15
) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """The float columns of frame among names, by dtype, as row-major matrices in the frame's
    row order with a missing (NaN) row at the end (filled `step` rows at a time: a small
    transposed copy in cache, written to the matrix in one run)."""
    groups: dict[np.dtype[Any], list[str]] = {}
    for name in names:
        dtype = frame[name].dtype
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            groups.setdefault(dtype, []).append(name)
    blocks = []
    for dtype, group in groups.items():
        n = len(frame)
        block = np.empty((n + 1, len(group)), dtype=dtype)
        body, columns = block[:-1], [frame[name].to_numpy() for name in group]
        for start in range(0, n, step):
            body[start : start + step] = np.stack([c[start : start + step] for c in columns]).T
        block[-1] = np.nan
        blocks.append((tuple(group), block))
    return blocks


def check_known(index: SetIndex) -> None:
    """InvalidInput unless the index has created times (what as-of-known needs)."""
    if index.created is None:
        raise InvalidInput(
            "as_of_known=True needs the feature set's created_time column; declare "
            "created_time='...' on the feature set or join by event time alone."
        )
