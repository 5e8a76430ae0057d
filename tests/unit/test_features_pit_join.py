"""The fast point-in-time join (the entity frame prepared once, packed sorts, binary searches)
against a plain reference on random data: several join keys of different types, missing keys and
times, ties of event and created time at nanosecond precision, values created before or after
their event time, TTL; and the columns it hands back keep their types."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayml.domain.features import Feature, FeatureSet, Source
from relayml.features.pit import by_key_and_time
from relayml.features.pit_index import _factorize_dense, entity_keys
from relayml.features.pit_threads import in_threads
from relayml.features.training import join_feature_set

BASE = pd.Timestamp("2024-03-01", tz="UTC")


def _fs(ttl_ns: int | None, created: bool = True) -> FeatureSet:
    return FeatureSet(
        name="s",
        entity="e",
        source=Source(dataset="s"),
        features=[Feature("row", "int64")],
        event_time="event",
        created_time="created" if created else None,
        ttl=None if ttl_ns is None else timedelta(microseconds=ttl_ns / 1000),
    )


def _reference(
    entity: pd.DataFrame, source: pd.DataFrame, as_of_known: bool, ttl_ns: int | None
) -> list[int]:
    """For each entity row, the position of the source row the rules pick, or -1: a loop."""
    answer = []
    for _, row in entity.iterrows():
        best, best_key = -1, None
        if pd.isna(row["event"]) or pd.isna(row["k1"]) or pd.isna(row["k2"]):
            answer.append(-1)
            continue
        for i, src in enumerate(source.itertuples(index=False)):
            if pd.isna(src.k1) or pd.isna(src.k2) or pd.isna(src.event):
                continue
            if src.k1 != row["k1"] or src.k2 != row["k2"] or src.event > row["event"]:
                continue
            created = src.event if pd.isna(src.created) else src.created
            if as_of_known and created > row["event"]:
                continue
            key = (src.event, created, i)
            if best_key is None or key > best_key:
                best, best_key = i, key
        if best >= 0 and ttl_ns is not None:
            age = row["event"].value - source["event"].iloc[best].value  # ints: no overflow
            best = -1 if age > ttl_ns else best
        answer.append(best)
    return answer


_stamp = st.one_of(
    st.none(),
    st.integers(0, 6).map(lambda d: BASE + pd.Timedelta(days=d)),  # ties are likely
    st.integers(0, 6 * 86_400 * 10**9).map(lambda ns: BASE + pd.Timedelta(ns, unit="ns")),
    # nanoseconds apart, and the ends of pandas' range: with those in a source its search keys
    # hold times coarsened to a few ns, so rows a few ns later share a key and are stepped over
    st.integers(0, 40).map(lambda ns: BASE + pd.Timedelta(ns, unit="ns")),
    st.sampled_from([pd.Timestamp("1678-01-01", tz="UTC"), pd.Timestamp("2262-04-01", tz="UTC")]),
)
_k1 = st.sampled_from([1, 2, 3, None])
_k2 = st.sampled_from(["a", "b", None])


@settings(max_examples=200, deadline=None)
@given(
    source=st.lists(
        st.tuples(_k1, _k2, _stamp, st.one_of(st.none(), st.integers(-2, 3))), max_size=40
    ),
    entity=st.lists(st.tuples(_k1, _k2, _stamp), min_size=1, max_size=25),
    as_of_known=st.booleans(),
    ttl_days=st.one_of(st.none(), st.integers(1, 4)),
)
def test_the_fast_join_picks_the_rows_a_plain_loop_picks(
    source: list[tuple[int | None, str | None, pd.Timestamp | None, int | None]],
    entity: list[tuple[int | None, str | None, pd.Timestamp | None]],
    as_of_known: bool,
    ttl_days: int | None,
) -> None:
    src = pd.DataFrame(
        {
            "k1": pd.array([s[0] for s in source], dtype="Int64"),
            "k2": pd.Series([s[1] for s in source], dtype=object),
            "event": pd.to_datetime([s[2] for s in source], utc=True),
            "created": pd.to_datetime(
                [
                    None if s[2] is None or s[3] is None else s[2] + pd.Timedelta(days=s[3])
                    for s in source
                ],
                utc=True,
            ),
        }
    )
    src["row"] = np.arange(len(src))
    ent = pd.DataFrame(
        {
            "k1": pd.array([e[0] for e in entity], dtype="Int64"),
            "k2": pd.Series([e[1] for e in entity], dtype=object),
            "event": pd.to_datetime([e[2] for e in entity], utc=True),
        },
        index=np.arange(len(entity))[::-1] * 7,  # an index of its own, kept
    )
    ttl_ns = None if ttl_days is None else ttl_days * 86_400 * 10**9
    prepared = entity_keys(ent, "event", ["k1", "k2"])
    expected = _reference(ent, src, as_of_known, ttl_ns)
    for entities in (None, prepared, prepared):  # prepared once, used for more than one join
        out = join_feature_set(
            ent, "event", _fs(ttl_ns), ["k1", "k2"], src, ["row"],
            as_of_known=as_of_known, entities=entities,
        )  # fmt: skip
        assert out.index.equals(ent.index)
        got = [-1 if pd.isna(v) else int(v) for v in out["row"]]
        assert got == expected


def test_a_source_keyed_by_numbers_of_another_type_meets_its_entities() -> None:
    ent = pd.DataFrame({"k": [1, 2, 3], "t": pd.to_datetime(["2024-01-05"] * 3)})
    src = pd.DataFrame(
        {
            "k": pd.array([2, None, 1, 7], dtype="Int64"),
            "t": pd.to_datetime(["2024-01-01"] * 4),
            "v": [20.0, 99.0, 10.0, 70.0],
        }
    )
    fs = _fs(None, created=False).model_copy(
        update={"event_time": "t", "features": [Feature("v", "float64")]}
    )
    out = join_feature_set(ent, "t", fs, ["k"], src, ["v"])
    assert out["v"].tolist()[:2] == [10.0, 20.0] and np.isnan(out["v"].iloc[2])
    as_float = src.assign(k=src["k"].astype("float64"))
    again = join_feature_set(ent, "t", fs, ["k"], as_float, ["v"])
    assert again["v"].equals(out["v"])


@pytest.mark.parametrize("card", [50, 2**40])  # the packed sort, and the lexsort
@pytest.mark.parametrize("span", [10**3, 2**62])  # exact times, and times coarsened to fit
@pytest.mark.parametrize("created", [False, True])
@pytest.mark.parametrize("n", [5_000, 300_000])  # sorted in one piece, and in one per core
def test_rows_sort_by_key_time_created_then_position(
    card: int, span: int, created: bool, n: int
) -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 50, n) * (card // 50)
    # few distinct times far apart plus near neighbours: coarse ties with different exact times
    times = rng.choice(rng.integers(-(2**62), -(2**62) + span, 40), n) + rng.integers(0, 3, n)
    made = rng.integers(0, 4, n) if created else None
    order = by_key_and_time(codes, times, made, card)
    keys = (times, codes) if made is None else (made, times, codes)
    assert np.array_equal(order, np.lexsort(keys))  # lexsort is stable: ties by position


def test_the_taken_columns_keep_their_types_and_missing_values() -> None:
    src = pd.DataFrame(
        {
            "k": [1, 2],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "f64": [1.5, 2.5],
            "f32": np.array([1.5, 2.5], dtype=np.float32),
            "i64": [1, 2],
            "i16": np.array([1, 2], dtype=np.int16),
            "b": [True, False],
            "n": pd.array([None, 5], dtype="Int64"),
            "s": pd.Series(["x", "y"], dtype="str"),
            "when": pd.to_datetime(["2023-01-01", "2023-02-01"], utc=True),
        }
    )
    ent = pd.DataFrame({"k": [2, 3, 1], "t": pd.to_datetime(["2024-02-01"] * 3)})
    names = [c for c in src.columns if c not in ("k", "t")]
    fs = _fs(None, created=False).model_copy(
        update={"event_time": "t", "features": [Feature(n) for n in names]}
    )
    out = join_feature_set(ent, "t", fs, ["k"], src, names)
    assert list(out.columns) == names
    dtypes = {c: str(out[c].dtype) for c in names}
    assert dtypes == {
        "f64": "float64", "f32": "float32", "i64": "Int64", "i16": "Int16", "b": "boolean",
        "n": "Int64", "s": "str", "when": str(src["when"].dtype),
    }  # fmt: skip
    assert out.iloc[0].tolist()[:5] == [2.5, 2.5, 2, 2, False]
    assert out["n"].tolist()[::2] == [5, pd.NA] and out["s"].tolist()[::2] == ["y", "x"]
    assert out.iloc[1].isna().all()  # entity 3 has no value at all
    empty = join_feature_set(ent, "t", fs, ["k"], src.iloc[:0], names)
    assert {c: str(empty[c].dtype) for c in names} == dtypes and empty.isna().all().all()


def test_work_in_threads_comes_back_in_the_items_order_with_the_first_error() -> None:
    def square(i: int) -> int:
        time.sleep(0.002 * (6 - i))  # the later items finish first
        return i * i

    assert in_threads(square, range(6), workers=3) == [0, 1, 4, 9, 16, 25]

    def fail(i: int) -> int:
        if i in (2, 4):
            raise ValueError(f"item {i}")
        return i

    with pytest.raises(ValueError, match="item 2"):
        in_threads(fail, range(6), workers=3)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint64"])
@pytest.mark.parametrize("end", ["min", "max"])
def test_dense_integer_keys_factorize_as_pandas_does(dtype: str, end: str) -> None:
    info = np.iinfo(dtype)
    steps = np.random.default_rng(5).integers(0, 200, 1_000).astype(dtype)
    values = pd.Series(steps + info.min if end == "min" else info.max - steps, dtype=dtype)
    codes, uniques = pd.factorize(values, sort=True)
    dense = _factorize_dense(values)  # counted over the range of the values at either end
    assert dense is not None and np.array_equal(dense[0], codes)
    pd.testing.assert_index_equal(dense[1], pd.Index(uniques))
    assert _factorize_dense(pd.Series([0, 2**40], dtype="int64")) is None  # too sparse
