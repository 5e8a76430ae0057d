"""The online lookup's own path (relayml/api/online_path.py): a plain lookup that the caller may
make is answered ahead of FastAPI with exactly what the route answers; every other request, and
every failure, gets the route's own answer.

One app with auth on over a real SQLite store (FastAPI's TestClient), a materialised feature set,
a viewer of its project, a signed-in user outside it and an anonymous caller. A query parameter
the path does not read (FastAPI's route ignores it) sends the same lookup through the route, so
the two answers can be compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from relayml.api.app import create_app
from relayml.api.online_path import OnlineLookups, lookup_of
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.features.declare import specs_of
from relayml.identity.tokens import create_token
from relayml.identity.users import add_user

NOW = pd.Timestamp(datetime.now(UTC)).tz_localize(None).floor("s")
URL = "/api/v1/projects/shop/feature-sets/customer/online"


@dataclass
class World:
    client: TestClient
    path: OnlineLookups
    tokens: dict[str, str]

    def get(self, who: str, url: str, redirects: bool = True, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}
        return self.client.get(url, params=params, headers=headers, follow_redirects=redirects)


def _materialised(backend: LocalBackend) -> None:
    backend.create_project("shop", business_question="who churns?")
    log_dataset(backend, "shop", "customers", pd.DataFrame({
        "customer_id": [1, 2, 3], "event_time": [NOW - pd.Timedelta(days=d) for d in (1, 2, 60)],
        "tenure": [3, 5, 8], "spend": [7.0, 9.5, 1.0],
    }))  # fmt: skip
    customer = Entity("customer", join_keys=["customer_id"])
    profile = FeatureSet(
        name="customer",
        entity=customer,
        source=Source(dataset="customers"),
        features=[Feature("tenure", "int64"), Feature("spend", "float64")],
        event_time="event_time",
        ttl=timedelta(days=30),
        checks=[],
    )
    backend.apply_features("shop", specs_of([customer, profile]))
    backend.promote_feature_set("shop", "customer", "staging")
    backend.materialize_feature_set("shop", "customer", "staging")


def _path_of(app: Any) -> OnlineLookups:
    layer = app.middleware_stack
    while not isinstance(layer, OnlineLookups):
        layer = layer.app  # each middleware holds the next one as .app
    return layer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    backend = LocalBackend(get_settings(home=tmp_path_factory.mktemp("online-path"), user="root"))
    store = backend.store
    _materialised(backend)
    tokens = {}
    for name in ("viewer", "outsider"):
        add_user(store, "test", name)
        tokens[name] = create_token(store, "test", name, "t")[1]
    backend.add_member("shop", "viewer", "viewer")
    app = create_app(backend, auth=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, _path_of(app), tokens)


def test_a_permitted_lookup_is_answered_on_its_path_as_the_route_answers_it(world: World) -> None:
    for params in ({"keys": ["1", "3", "9"], "environment": "staging"}, {"keys": "2|x"}):
        before = world.path.answered
        fast = world.get("viewer", URL, **params)
        if "environment" not in params:  # production holds no version: the route says so
            assert world.path.answered == before
            assert fast.status_code == 404 and "no version in production" in fast.text
            continue
        assert world.path.answered == before + 1
        routed = world.get("viewer", URL, **params, unread="1")  # FastAPI's route
        assert world.path.answered == before + 1
        assert fast.status_code == routed.status_code == 200
        assert fast.headers["content-type"] == routed.headers["content-type"]
        body, same = fast.json(), routed.json()
        assert body.pop("looked_up_at") <= same.pop("looked_up_at")  # the moment of each lookup
        assert body == same
        rows = {row["key"]: row for row in body["rows"]}
        assert rows["1"]["values"] == {"tenure": 3, "spend": 7.0}
        assert "TTL" in rows["3"]["missing"]["tenure"]
        assert rows["9"]["missing"]["tenure"] == "no value for this entity in the online table"


@pytest.mark.parametrize(
    ("who", "url", "params", "status"),
    [
        ("nobody", URL, {"keys": "1", "environment": "staging"}, 401),
        ("outsider", URL, {"keys": "1", "environment": "staging"}, 403),
        ("viewer", URL.replace("customer/", "nope/"), {"keys": "1", "environment": "staging"}, 404),
        ("viewer", URL.replace("shop", "elsewhere"), {"keys": "1", "environment": "staging"}, 404),
        ("viewer", URL, {"keys": "1", "environment": "qa"}, 422),
        ("viewer", URL, {"environment": "staging"}, 422),
        ("viewer", URL + "/", {"keys": "1", "environment": "staging"}, 307),
        ("viewer", URL, {"keys": "1", "environment": ["staging", "staging"]}, 200),
    ],
)
def test_anything_else_gets_the_route_s_own_answer(
    world: World, who: str, url: str, params: dict[str, Any], status: int
) -> None:
    before = world.path.answered
    answer = world.get(who, url, redirects=False, **params)
    assert answer.status_code == status, answer.text
    assert world.path.answered == before  # the route answered, not the path
    if status >= 400:
        error = answer.json()["error"]
        assert set(error) == {"code", "message"} and error["message"]


def test_only_a_plain_lookup_is_read_as_one() -> None:
    plain = "/api/v1/projects/p/feature-sets/s/online"
    assert lookup_of(plain, b"keys=a%7Cb&keys=c") == ("p", "s", ["a|b", "c"], "production")
    assert lookup_of(plain, b"keys=1&environment=staging") == ("p", "s", ["1"], "staging")
    assert lookup_of(plain, b"keys=") == ("p", "s", [""], "production")
    for path, query in [
        (plain, b""),  # no keys: the route's 422
        (plain, b"keys=1&other=2"),
        (plain, b"keys=1&environment=a&environment=b"),
        (plain + "/", b"keys=1"),
        ("/api/v1/projects//feature-sets/s/online", b"keys=1"),
        ("/api/v1/projects/p/feature-sets//online", b"keys=1"),
        ("/api/v1/projects/p/x/feature-sets/s/online", b"keys=1"),
        ("/api/v1/projects/p/datasets/s/online", b"keys=1"),
        ("/api/v2/projects/p/feature-sets/s/online", b"keys=1"),
    ]:
        assert lookup_of(path, query) is None, (path, query)
