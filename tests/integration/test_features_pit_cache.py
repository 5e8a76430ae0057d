"""The prepared sources of point-in-time joins, cached on disk per dataset version: a join read
from the cache gives what a join of the frame in memory gives (values and types, by event time
and as-of-known), a new dataset version is prepared anew, and two writers of one folder leave
one whole folder."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd

from relayml.data.sources import log_dataset
from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.domain.ports import Backend
from relayml.features import pit_index, training_frame
from relayml.features.declare import specs_of
from relayml.features.pit_cache import cached_index, cached_known, load_index, save_index
from relayml.features.pit_index import (
    build_index,
    entity_keys,
    float_blocks,
    join_index,
    known_part,
)

CUSTOMER = Entity("customer", join_keys=["customer_id"])
START = pd.Timestamp("2024-01-01")


def _source(rng: np.random.Generator, n: int = 600) -> pd.DataFrame:
    event = START + pd.to_timedelta(rng.integers(0, 30 * 86_400, n), unit="s")
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 50, n),
            "event_time": event,
            "created_at": event + pd.to_timedelta(rng.integers(0, 3 * 86_400, n), unit="s"),
            "spend": rng.normal(size=n),
            "ratio": rng.normal(size=n).astype(np.float32),
            "visits": rng.integers(0, 9, n),
            "plan": pd.Series(rng.choice(["free", "pro"], n), dtype="str"),
            "score": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        }
    )
    frame.loc[::7, "spend"] = np.nan
    frame.loc[::11, "score"] = pd.NA
    return frame


def _entities(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, 55, n),  # some never seen
            "event_time": START + pd.to_timedelta(rng.integers(-86_400, 34 * 86_400, n), unit="s"),
        },
        index=pd.Index(rng.permutation(n) * 3, name="row"),
    )


FEATURES = ["spend", "ratio", "visits", "plan", "score"]


def test_a_cached_index_joins_as_the_frame_in_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    source, entities = _source(rng), _entities(rng)
    fresh = build_index(source, ["customer_id"], "event_time", "created_at")
    save_index(fresh, tmp_path / "one", FEATURES)
    cached = load_index(tmp_path / "one")
    assert cached is not None and np.array_equal(cached.order, fresh.order)
    assert [names for names, _ in cached.blocks] == [("spend",), ("ratio",)]
    prepared = entity_keys(entities, "event_time", ["customer_id"])
    for ttl in (None, 5 * 86_400 * 10**9):
        for known in (False, True):
            a = replace(fresh, known=known_part(fresh)) if known else fresh
            b = cached if not known else cached_known(tmp_path, "one", cached)
            expected = join_index(prepared, a, FEATURES, as_of_known=known, ttl_ns=ttl)
            with patch.object(pit_index, "_STEP", 7):  # searched and gathered 7 rows at a time
                got = join_index(prepared, b, FEATURES, as_of_known=known, ttl_ns=ttl)
            pd.testing.assert_frame_equal(got, expected)
            assert got.index.equals(entities.index)
            assert got["spend"].notna().any() and got["spend"].isna().any()
    assert {str(t) for t in got.dtypes} == {"float64", "float32", "Int64", "str"}


def test_integer_keys_are_kept_as_arrays_and_text_keys_as_arrow(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    source, entities = _source(rng), _entities(rng)
    source["region"] = pd.Series(rng.choice(["north", "south"], len(source)), dtype="str")
    entities["region"] = pd.Series(rng.choice(["north", "south", "west"], len(entities)))
    entities["region"] = entities["region"].astype("str")
    keys = ["region", "customer_id"]
    fresh = build_index(source, keys, "event_time", None)
    save_index(fresh, tmp_path / "two", FEATURES)
    assert sorted(p.name for p in (tmp_path / "two").glob("key*")) == ["key0.arrow", "key1.npy"]
    cached = load_index(tmp_path / "two")
    assert cached is not None
    assert [list(u) for u in cached.uniques] == [list(u) for u in fresh.uniques]
    prepared = entity_keys(entities, "event_time", keys)
    expected = join_index(prepared, fresh, FEATURES)
    pd.testing.assert_frame_equal(join_index(prepared, cached, FEATURES), expected)
    assert expected["spend"].notna().any() and expected["spend"].isna().any()


def test_two_writers_of_one_folder_leave_one_whole_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    source = _source(rng)
    built = []

    def build() -> object:
        built.append(1)
        return build_index(source, ["customer_id"], "event_time", None)

    first = cached_index(tmp_path, "key", build, FEATURES)  # type: ignore[arg-type]
    # a second writer that prepared the same data at the same time: its rename loses
    save_index(build_index(source, ["customer_id"], "event_time", None), tmp_path / "key", FEATURES)
    again = cached_index(tmp_path, "key", build, FEATURES)  # type: ignore[arg-type]
    assert built == [1]  # read, not built again
    assert np.array_equal(first.search, again.search)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]  # no temporary folder left
    assert (tmp_path / "key" / "manifest.json").exists()


def test_training_frames_read_each_dataset_version_prepared_once(
    backend: Backend, project: str
) -> None:
    rng = np.random.default_rng(5)
    log_dataset(backend, project, "customers", _source(rng))
    fs = FeatureSet(
        name="customer", entity=CUSTOMER, source=Source(dataset="customers"),
        features=[Feature(n) for n in FEATURES], event_time="event_time",
        created_time="created_at", ttl=timedelta(days=10),
    )  # fmt: skip
    backend.apply_features(project, specs_of([CUSTOMER, fs]))
    entities = _entities(rng)
    refs = [f"customer:{n}" for n in FEATURES]
    cache = Path(backend.settings.home) / "cache" / "features"  # type: ignore[attr-defined]
    for known in (False, True):
        cold = training_frame(entities, refs, backend=backend, project=project, name=None,
                              as_of_known=known)  # fmt: skip
        warm = training_frame(entities, refs, backend=backend, project=project, name=None,
                              as_of_known=known)  # fmt: skip
        pd.testing.assert_frame_equal(cold, warm)
        # what the frame in memory gives: the same
        source = _source(np.random.default_rng(5))
        index = build_index(source, ["customer_id"], "event_time", "created_at")
        if known:
            index = replace(index, known=known_part(index))
        plain = join_index(
            entity_keys(entities, "event_time", ["customer_id"]), index, FEATURES,
            as_of_known=known, ttl_ns=10 * 86_400 * 10**9,
        )  # fmt: skip
        pd.testing.assert_frame_equal(warm[FEATURES], plain)
    folders = sorted(p.name for p in cache.iterdir())
    assert len(folders) == 2 and folders[1] == f"{folders[0]}-known"
    # a new version of the dataset is another folder, and its values are the new ones
    changed = _source(np.random.default_rng(5))
    changed["visits"] += 100
    log_dataset(backend, project, "customers", changed)
    after = training_frame(entities, refs, backend=backend, project=project, name=None)
    assert len([p for p in cache.iterdir() if not p.name.endswith("-known")]) == 2
    seen = after["visits"].notna()
    assert seen.any() and (after["visits"][seen] >= 100).all()


def test_two_join_keys_meet_through_the_cache(tmp_path: Path) -> None:
    keys = ["region", "store"]
    source = pd.DataFrame({
        "region": ["eu", "eu", "us", "us", "eu", None],
        "store": [1, 2, 1, 2, 1, 2],
        "event_time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04",
                                      "2024-01-05", "2024-01-01"]),
        "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })  # fmt: skip
    entities = pd.DataFrame({
        "region": ["eu", "eu", "us", "us", "ca", "eu"],
        "store": [1, 1, 2, 1, 1, 2],
        "event_time": pd.to_datetime(["2024-01-04", "2024-01-06", "2024-01-05", "2024-01-02",
                                      "2024-01-09", "2024-01-01"]),
    })  # fmt: skip
    save_index(build_index(source, keys, "event_time", None), tmp_path / "k", ["v"])
    cached = load_index(tmp_path / "k")
    assert cached is not None
    got = join_index(entity_keys(entities, "event_time", keys), cached, ["v"])
    # us/1 has only a later row, ca/1 none, eu/2 a later one (the row without a region is not
    # eu/2's)
    np.testing.assert_array_equal(got["v"], [1.0, 5.0, 4.0, np.nan, np.nan, np.nan])


def test_with_the_cache_off_nothing_is_written_and_the_frame_is_the_same(tmp_path: Path) -> None:
    from relayml.backend import LocalBackend
    from relayml.config import Settings

    frames = {}
    for cached in (True, False):
        home = tmp_path / f"home-{cached}"
        backend = LocalBackend(Settings(home=home, feature_cache=cached))
        backend.create_project("churn")
        log_dataset(backend, "churn", "customers", _source(np.random.default_rng(8)))
        fs = FeatureSet(
            name="customer", entity=CUSTOMER, source=Source(dataset="customers"),
            features=[Feature(n) for n in FEATURES], event_time="event_time",
            created_time="created_at", ttl=timedelta(days=10),
        )  # fmt: skip
        backend.apply_features("churn", specs_of([CUSTOMER, fs]))
        frames[cached] = training_frame(
            _entities(np.random.default_rng(9)), [f"customer:{n}" for n in FEATURES],
            backend=backend, project="churn", name=None, as_of_known=True,
        )  # fmt: skip
        assert (home / "cache" / "features").exists() is cached
    pd.testing.assert_frame_equal(frames[True], frames[False])


def test_float_blocks_are_the_float_columns_row_major_then_a_missing_row() -> None:
    frame = pd.DataFrame(
        {"a": np.arange(10.0), "n": np.arange(10), "b": -np.arange(10.0), "c": np.ones(10, "f4")}
    )
    blocks = float_blocks(frame, ["b", "n", "a", "c"], step=3)  # filled 3 rows at a time
    assert [names for names, _ in blocks] == [("b", "a"), ("c",)]
    wide = blocks[0][1]
    assert np.array_equal(wide[:-1], frame[["b", "a"]].to_numpy()) and np.isnan(wide[-1]).all()
    assert blocks[1][1].dtype == np.float32 and blocks[1][1].shape == (11, 1)
