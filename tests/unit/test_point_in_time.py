"""The point-in-time join: a hand-checked example (ties, gaps, late-created rows, TTL, unseen
entities) and a Hypothesis property against a row-by-row reference written here."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relayml.domain.features import Feature, FeatureSet, Source
from relayml.errors import InvalidInput
from relayml.features import pit_index
from relayml.features.training import join_feature_set, latest_values

DAY = pd.Timestamp("2024-01-01")


def _day(n: float) -> pd.Timestamp:
    return DAY + pd.Timedelta(days=n)


def _fs(ttl_days: float | None = None) -> FeatureSet:
    return FeatureSet(
        name="customer",
        entity="customer",
        source=Source(dataset="customers"),
        features=[Feature("v", "int64")],
        event_time="event_time",
        created_time="created_at",
        ttl=None if ttl_days is None else timedelta(days=ttl_days),
    )


# the source: ties on event time (r1, r2, r3), a row created late (r1, r3), a gap for B,
# a row without a key (r6)
SOURCE = pd.DataFrame(
    {
        "customer_id": ["A", "A", "A", "A", "B", "B", None],
        "event_time": [_day(0), _day(2), _day(2), _day(2), _day(1), _day(9), _day(0)],
        "created_at": [_day(0), _day(4), _day(2), _day(4), _day(1), _day(9), _day(0)],
        "v": [1, 2, 3, 4, 5, 6, 7],
    }
)
ENTITIES = pd.DataFrame(
    {
        "customer_id": ["A", "A", "A", "A", "A", "B", "B", "C"],
        "event_time": [_day(-1), _day(0), _day(2), _day(3), _day(4), _day(8), _day(9), _day(9)],
    }
)


@pytest.mark.parametrize(
    ("as_of_known", "ttl", "expected"),
    [
        # r3 beats r1 (same event and created time: the last row) and r2 (created earlier)
        (False, None, [None, 1, 4, 4, 4, 5, 6, None]),
        # as of what was known: r1 and r3 exist only from day 4, so days 2 and 3 see r2
        (True, None, [None, 1, 3, 3, 4, 5, 6, None]),
        # B's day-1 value is 7 days old on day 8: past a 5-day TTL, so missing
        (False, 5, [None, 1, 4, 4, 4, None, 6, None]),
    ],
)
def test_a_hand_checked_example(as_of_known: bool, ttl: int | None, expected: list[int]) -> None:
    out = join_feature_set(
        ENTITIES, "event_time", _fs(ttl), ["customer_id"], SOURCE, ["v"], as_of_known=as_of_known
    )
    got = [None if pd.isna(v) else int(v) for v in out["v"]]
    assert got == expected
    assert str(out["v"].dtype) == "Int64"  # an integer feature stays integer with gaps


def test_latest_values_per_entity_as_of_a_moment() -> None:
    rows = latest_values(SOURCE, _fs(), ["customer_id"], _day(3), as_of_known=True)
    assert dict(zip(rows["customer_id"], rows["v"], strict=True)) == {"A": 3, "B": 5}


def test_as_of_known_needs_a_created_time() -> None:
    fs = _fs().model_copy(update={"created_time": None})
    with pytest.raises(InvalidInput, match="needs the feature set's created_time column"):
        join_feature_set(
            ENTITIES, "event_time", fs, ["customer_id"], SOURCE, ["v"], as_of_known=True
        )


def test_a_source_without_a_declared_column_is_named() -> None:
    with pytest.raises(InvalidInput, match="has no column created_at"):
        join_feature_set(
            ENTITIES, "event_time", _fs(), ["customer_id"], SOURCE.drop(columns="created_at"), ["v"]
        )


def _reference(
    entity: pd.DataFrame, source: pd.DataFrame, as_of_known: bool, ttl: pd.Timedelta | None
) -> list[int]:
    """Row by row: the source row each entity row should get, or -1."""
    answer = []
    for _, row in entity.iterrows():
        best, best_key = -1, None
        for i, src in source.iterrows():
            if pd.isna(src["k"]) or src["k"] != row["k"] or src["event"] > row["t"]:
                continue
            created = src["event"] if pd.isna(src["created"]) else src["created"]
            if as_of_known and created > row["t"]:
                continue
            key = (src["event"], created, i)
            if best_key is None or key > best_key:
                best, best_key = int(i), key
        if best >= 0 and ttl is not None and source["event"][best] < row["t"] - ttl:
            best = -1
        answer.append(best)
    return answer


_day_st = st.integers(0, 12)


@settings(max_examples=150, deadline=None)
@given(
    source=st.lists(
        st.tuples(
            st.sampled_from([0, 1, 2, None]), _day_st, st.one_of(st.none(), st.integers(0, 4))
        ),
        max_size=25,
    ),
    entity=st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 14)), min_size=1, max_size=15),
    as_of_known=st.booleans(),
    ttl_days=st.one_of(st.none(), st.integers(1, 6)),
)
def test_no_value_from_the_future_and_the_same_rows_as_the_reference(
    source: list[tuple[int | None, int, int | None]],
    entity: list[tuple[int, int]],
    as_of_known: bool,
    ttl_days: int | None,
) -> None:
    src = pd.DataFrame(
        {
            "k": pd.array([s[0] for s in source], dtype="Int64"),
            "event": [_day(s[1]) for s in source],
            "created": [pd.NaT if s[2] is None else _day(s[1] + s[2]) for s in source],
        }
    )
    ent = pd.DataFrame({"k": [e[0] for e in entity], "t": [_day(e[1]) for e in entity]})
    ttl = None if ttl_days is None else pd.Timedelta(days=ttl_days)
    fs = FeatureSet(
        name="prop", entity="thing", source=Source(dataset="things"),
        features=[Feature("pos", "int64")], event_time="event", created_time="created",
        ttl=None if ttl is None else ttl.to_pytimedelta(),
    )  # fmt: skip
    source_rows = src.assign(pos=np.arange(len(src)))  # each value names its source row
    joined = join_feature_set(ent, "t", fs, ["k"], source_rows, ["pos"], as_of_known=as_of_known)
    got = np.array([-1 if pd.isna(v) else int(v) for v in joined["pos"]], dtype=np.int64)
    for row, index in zip(ent.itertuples(), got, strict=True):
        if index < 0:
            continue
        assert src["event"][index] <= row.t  # never a value from after the row's time
        created = src["created"][index]
        if as_of_known and not pd.isna(created):
            assert created <= row.t  # nor one created after it
    assert got.tolist() == _reference(ent, src, as_of_known, ttl)
    with patch.object(pit_index, "_STEP", 2):  # the entity rows searched 2 at a time: the same
        again = join_feature_set(ent, "t", fs, ["k"], source_rows, ["pos"], as_of_known=as_of_known)
    pd.testing.assert_frame_equal(again, joined)


def test_an_empty_source_or_entity_frame_gives_missing_values() -> None:
    empty = SOURCE.iloc[:0]
    out = join_feature_set(ENTITIES, "event_time", _fs(), ["customer_id"], empty, ["v"])
    assert out["v"].isna().all() and len(out) == len(ENTITIES)
    none = join_feature_set(ENTITIES.iloc[:0], "event_time", _fs(), ["customer_id"], SOURCE, ["v"])
    assert len(none) == 0
    assert np.array_equal(none.columns, ["v"])
