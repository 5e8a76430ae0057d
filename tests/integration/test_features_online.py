"""The online feature store on every transport (SQLite, PostgreSQL, HTTP): materialise the latest
value per entity (incrementally, in one transaction, audited), look values up with TTL applied,
and get what a training frame at the same moment gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, NotFound
from relayml.features import materialize, online, training_frame
from relayml.features.declare import specs_of
from relayml.features.online_store import BATCH

CUSTOMER = Entity("customer", join_keys=["customer_id"])
NOW = pd.Timestamp(datetime.now(UTC)).tz_localize(None).floor("s")


def _profile(extra: list[Feature] | None = None) -> FeatureSet:
    return FeatureSet(
        name="customer",
        entity=CUSTOMER,
        source=Source(dataset="customers"),
        features=[Feature("tenure", "int64"), Feature("spend", "float64"), *(extra or [])],
        event_time="event_time",
        ttl=timedelta(days=30),
        checks=[],
    )


def _days_ago(*days: float) -> list[pd.Timestamp]:
    return [NOW - pd.Timedelta(days=d) for d in days]


def test_materialise_then_look_up_as_the_training_frame_sees_it(
    backend: Backend, project: str
) -> None:
    log_dataset(backend, project, "customers", pd.DataFrame({
        "customer_id": [1, 1, 2, 3],
        "event_time": _days_ago(40, 10, 50, -1),  # 2 is past its TTL, 3 only in the future
        "tenure": [1, 2, 5, 9],
        "spend": [10.0, 20.0, 50.0, 90.0],
    }))  # fmt: skip
    backend.apply_features(project, specs_of([CUSTOMER, _profile()]))
    with pytest.raises(NotFound, match="no version in staging"):
        materialize("customer", env="staging", backend=backend, project=project)
    backend.promote_feature_set(project, "customer", "staging")

    done = materialize("customer", env="staging", backend=backend, project=project)
    assert (done.version, done.full, done.written, done.entities) == (1, True, 2, 2)
    assert done.latest_event_time == NOW.tz_localize(UTC) - timedelta(days=10)

    found = online("customer", [1, 2, 3], env="staging", backend=backend, project=project)
    assert (found.feature_set, found.version, found.environment) == ("customer", 1, "staging")
    one, two, three = found.rows
    assert (one.key, one.values, one.missing) == ("1", {"tenure": 2, "spend": 20.0}, {})
    assert one.event_time == NOW.tz_localize(UTC) - timedelta(days=10)
    assert two.values == {"tenure": None, "spend": None}
    assert "TTL" in two.missing["tenure"] and "TTL" in two.missing["spend"]
    assert three.values == {"tenure": None, "spend": None}
    assert three.missing["tenure"] == "no value for this entity in the online table"

    # offline at the same moment gives the same values (and the same missing ones)
    entities = pd.DataFrame({"customer_id": [1, 2], "event_time": [NOW, NOW]})
    frame = training_frame(
        entities, ["customer:tenure", "customer:spend"], name=None, backend=backend,
        project=project,
    )  # fmt: skip
    assert frame["tenure"].iloc[0] == one.values["tenure"]
    assert frame["spend"].iloc[0] == one.values["spend"]
    assert pd.isna(frame["tenure"].iloc[1]) and pd.isna(frame["spend"].iloc[1])

    # incremental: only rows at or after the newest stored event time are read
    log_dataset(backend, project, "customers", pd.DataFrame({
        "customer_id": [1, 1, 2, 2, 3],
        "event_time": _days_ago(40, 10, 50, 1, -1),
        "tenure": [1, 2, 5, 6, 9],
        "spend": [10.0, 20.0, 50.0, 55.0, 90.0],
    }))  # fmt: skip
    again = materialize("customer", env="staging", backend=backend, project=project)
    assert (again.full, again.written, again.entities) == (False, 2, 2)  # 1 (same time) and 2
    assert again.since == NOW.tz_localize(UTC) - timedelta(days=10)
    fresh = online("customer", [2], env="staging", backend=backend, project=project).rows[0]
    assert (fresh.values, fresh.missing) == ({"tenure": 6, "spend": 55.0}, {})
    entries = backend.list_audit(entity_id=f"{project}/customer@1")
    mine = [e for e in entries if e.action == "features.materialize"]
    assert len(mine) == 2 and mine[0].after["environment"] == "staging"


def test_bad_lookups_are_told(backend: Backend, project: str) -> None:
    log_dataset(backend, project, "customers", pd.DataFrame({
        "customer_id": [1], "event_time": _days_ago(1), "tenure": [1], "spend": [1.0],
    }))  # fmt: skip
    backend.apply_features(project, specs_of([CUSTOMER, _profile()]))
    backend.promote_feature_set(project, "customer", "staging")
    with pytest.raises(NotFound, match="relay features materialize customer --env staging"):
        backend.online_features(project, "customer", ["1"], environment="staging")
    with pytest.raises(NotFound, match="no version in production"):
        backend.online_features(project, "customer", ["1"], environment="production")
    with pytest.raises(InvalidInput, match="unknown environment"):
        backend.materialize_feature_set(project, "customer", "qa")
    with pytest.raises(NotFound):
        backend.online_features(project, "nope", ["1"], environment="staging")
    with pytest.raises(InvalidInput):
        backend.online_features(project, "customer", [], environment="staging")


def test_a_lookup_answers_for_the_version_the_environment_holds_now(
    backend: Backend, project: str
) -> None:
    """The lookup resolves a feature set once and then checks it: a later promotion shows."""
    log_dataset(backend, project, "customers", pd.DataFrame({
        "customer_id": [1], "event_time": _days_ago(1), "tenure": [3], "spend": [7.0],
        "visits": [4],
    }))  # fmt: skip
    backend.apply_features(project, specs_of([CUSTOMER, _profile()]))
    backend.promote_feature_set(project, "customer", "staging")
    materialize("customer", env="staging", backend=backend, project=project)
    for _ in range(2):  # the second lookup reads the resolved set
        first = backend.online_features(project, "customer", ["1"], environment="staging")
        assert (first.version, first.rows[0].values) == (1, {"tenure": 3, "spend": 7.0})

    backend.apply_features(project, specs_of([CUSTOMER, _profile([Feature("visits", "int64")])]))
    backend.promote_feature_set(project, "customer", "staging", version=2)
    moved = backend.online_features(project, "customer", ["1"], environment="staging")
    assert moved.version == 2
    assert moved.rows[0].values == {"tenure": None, "spend": None, "visits": None}
    assert "materialised by version 1, not 2" in moved.rows[0].missing["visits"]
    materialize("customer", env="staging", backend=backend, project=project)
    fresh = backend.online_features(project, "customer", ["1"], environment="staging")
    assert (fresh.version, fresh.rows[0].values) == (2, {"tenure": 3, "spend": 7.0, "visits": 4})

    backend.promote_feature_set(project, "customer", "staging", version=1)  # and back again
    back = backend.online_features(project, "customer", ["1"], environment="staging")
    assert back.version == 1
    assert "materialised by version 2, not 1" in back.rows[0].missing["tenure"]


@pytest.fixture(params=["sqlite", "postgresql"])
def local(request: pytest.FixtureRequest, tmp_path: object) -> LocalBackend:
    args: dict[str, object] = {"home": tmp_path}
    if request.param == "postgresql":
        args["database_url"] = request.getfixturevalue("store_url_pg")
    return LocalBackend(get_settings(**args))


def test_a_materialisation_failing_midway_leaves_the_previous_rows(local: LocalBackend) -> None:
    local.create_project("shop", business_question="who churns?")
    count = 2 * BATCH + 200  # the bad row is in the third batch: two were written before it
    ids = list(range(count))
    log_dataset(local, "shop", "customers", pd.DataFrame({
        "customer_id": ids, "event_time": [NOW - pd.Timedelta(days=2)] * count,
        "tenure": ids, "spend": [1.0] * count, "tags": [None] * count,
    }))  # fmt: skip
    local.apply_features("shop", specs_of([CUSTOMER, _profile([Feature("tags", "string")])]))
    local.promote_feature_set("shop", "customer", "staging")
    first = local.materialize_feature_set("shop", "customer", "staging")
    assert first.written == count
    before = local.online_features("shop", "customer", ["0", "600", str(count - 1)],
                                   environment="staging")  # fmt: skip

    log_dataset(local, "shop", "customers", pd.DataFrame({
        "customer_id": ids, "event_time": [NOW - pd.Timedelta(days=1)] * count,
        "tenure": [i + 1 for i in ids], "spend": [2.0] * count,
        "tags": [None] * (count - 1) + [[1, 2]],  # a list: not a value the online table holds
    }))  # fmt: skip
    with pytest.raises(InvalidInput, match="cannot be stored online"):
        local.materialize_feature_set("shop", "customer", "staging")
    after = local.online_features("shop", "customer", ["0", "600", str(count - 1)],
                                  environment="staging")  # fmt: skip
    assert after.rows == before.rows  # every row as it was: one transaction
    assert before.rows[0].values["tenure"] == 0
    audited = local.list_audit(entity_id="shop/customer@1")
    assert [e.action for e in audited].count("features.materialize") == 1
    local.close()


def test_every_value_type_goes_online_as_in_the_source(backend: Backend, project: str) -> None:
    # built a column at a time: floats (NaN and infinity are missing), integers, booleans, text
    # (with a null), times, and an entity of two join keys whose key is "|"-joined
    store = Entity("store", join_keys=["region", "store_id"])
    log_dataset(backend, project, "stores", pd.DataFrame({
        "region": ["eu", "eu", "us", "us"],
        "store_id": [1, 2, 1, 1],
        "event_time": _days_ago(3, 2, 4, 1),
        "sales": [1.5, float("nan"), 2.0, float("inf")],
        "staff": [3, 4, 5, 6],
        "open": [True, False, True, False],
        "manager": ["ann", None, "bo", "cy"],
        "opened": pd.to_datetime(["2020-01-02 03:04:05", "2021-01-01 00:00:00",
                                  "2019-05-05 00:00:00", "2022-02-02 00:00:00"]),
    }))  # fmt: skip
    features = [Feature("sales", "float64"), Feature("staff", "int64"), Feature("open", "bool"),
                Feature("manager", "string"), Feature("opened", "timestamp")]  # fmt: skip
    stores = FeatureSet(name="stores", entity=store, source=Source(dataset="stores"),
                        features=features, event_time="event_time", checks=[])  # fmt: skip
    backend.apply_features(project, specs_of([store, stores]))
    backend.promote_feature_set(project, "stores", "staging")
    done = materialize("stores", env="staging", backend=backend, project=project)
    assert (done.written, done.entities) == (3, 3)
    found = online("stores", [("eu", 1), ("eu", 2), ("us", 1)], env="staging",
                   backend=backend, project=project)  # fmt: skip
    eu1, eu2, us1 = (r.values for r in found.rows)
    assert [r.key for r in found.rows] == ["eu|1", "eu|2", "us|1"]
    assert eu1 == {"sales": 1.5, "staff": 3, "open": True, "manager": "ann",
                   "opened": "2020-01-02T03:04:05"}  # fmt: skip
    assert eu2 == {"sales": None, "staff": 4, "open": False, "manager": None,
                   "opened": "2021-01-01T00:00:00"}  # fmt: skip
    assert us1 == {"sales": None, "staff": 6, "open": False, "manager": "cy",
                   "opened": "2022-02-02T00:00:00"}  # fmt: skip
    assert set(found.rows[1].missing) == {"sales", "manager"}
    assert found.rows[2].missing == {"sales": "null in the source"}
