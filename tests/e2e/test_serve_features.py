"""`relay serve` looks a model's feature inputs up online: a request carries the entity key only,
the answer equals the model on the offline (training_frame) values, missing values follow the
signature, one lookup per micro-batch (counted by the server's metrics)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.features import materialize, training_frame
from relayml.features.declare import specs_of
from relayml.models.publish import log_model
from relayml.predictions import read_log
from tests.fixtures.net import loopback
from tests.fixtures.serving import ServedHome

NOW = pd.Timestamp(datetime.now(UTC)).tz_localize(None).floor("s")
CUSTOMER = Entity("customer", join_keys=["customer_id"])
PLANS = ["basic", "plus", "pro"]


def _build(home: Path, database_url: str | None) -> tuple[ServedHome, Any, pd.DataFrame]:
    """Customers 1..40 fresh, 99 past its 30-day TTL; churn/1 trained on the features."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    extra = {"database_url": database_url} if database_url else {}
    backend = LocalBackend(get_settings(home=home, user="dana", **extra))
    backend.create_project("churn", business_question="Who will leave?")
    rng = np.random.default_rng(3)
    ids = [*range(1, 41), 99]
    log_dataset(backend, "churn", "customers", pd.DataFrame({
        "customer_id": ids,
        "event_time": [NOW - pd.Timedelta(days=float(d)) for d in rng.uniform(1, 20, 40)]
        + [NOW - pd.Timedelta(days=45)],
        "tenure": rng.integers(1, 72, len(ids)),
        "spend": rng.normal(60, 20, len(ids)).round(2),
    }))  # fmt: skip
    profile = FeatureSet(
        name="customer", entity=CUSTOMER, source=Source(dataset="customers"),
        features=[Feature("tenure", "int64"), Feature("spend", "float64")],
        event_time="event_time", ttl=timedelta(days=30), checks=[],
    )  # fmt: skip
    backend.apply_features("churn", specs_of([CUSTOMER, profile]))
    for env in ("staging", "production"):
        backend.promote_feature_set("churn", "customer", env)
    materialize("customer", env="production", backend=backend, project="churn")
    entities = pd.DataFrame({
        "customer_id": range(1, 41), "event_time": [NOW] * 40,
        "plan": [PLANS[i % 3] for i in range(40)],
    })  # fmt: skip
    frame = training_frame(
        entities, ["customer:tenure", "customer:spend"], name=None, backend=backend,
        project="churn",
    )  # fmt: skip
    x = frame[["tenure", "spend", "plan"]].astype({"tenure": "int64"})
    y = (x["tenure"] < 30).astype(int)
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["tenure", "spend"]), ("cat", OneHotEncoder(), ["plan"])]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression())]).fit(x, y)
    version = log_model(
        backend, "churn", model, "churn", x.head(5),
        feature_inputs=["customer:tenure", "customer:spend"],
    )  # fmt: skip
    assert version.details["feature_inputs"]["sets"]["customer"]["keys"] == ["customer_id"]
    backend.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env |= {"RELAY_HOME": str(home), "RELAY_USER": "dana", "RELAY_PROJECT": "churn"}
    if database_url:
        env["RELAY_DATABASE_URL"] = database_url
    return ServedHome(home, env), model, x


@pytest.fixture(params=["sqlite", "postgresql"])
def featured(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ServedHome, Any, Any]:
    """A store with the materialised feature set and churn/1, on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("store_url_pg") if request.param == "postgresql" else None
    return _build(tmp_path / "home", url)


def _metric(text: str, name: str) -> float:
    found = re.search(rf'^{name}\{{model="churn",variant="v1"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_serve_looks_features_up_online_as_offline(
    featured: tuple[ServedHome, Any, pd.DataFrame], start_server: Any
) -> None:
    home, model, x = featured
    server = start_server(home, ["churn/1"])
    url = server.url

    # only the entity key and the request-time input: the same answer as offline
    answer = loopback.post(f"{url}/predict?features=true", json={"customer_id": 7, "plan": "pro"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    offline = x.iloc[[6]].assign(plan="pro")
    assert body["predictions"] == model.predict(offline).tolist()
    assert np.allclose(body["probabilities"], model.predict_proba(offline))
    used = body["features"][0]
    assert used["values"] == {"tenure": int(x["tenure"].iloc[6]), "spend": x["spend"].iloc[6]}
    assert used["sets"]["customer"]["key"] == "7" and used["sets"]["customer"]["version"] == 1
    assert used["sets"]["customer"]["event_time"] is not None
    plain = loopback.post(f"{url}/predict", json={"customer_id": 7, "plan": "pro"}).json()
    assert "features" not in plain and plain["predictions"] == body["predictions"]

    # the V2 protocol: the key as a tensor, the features asked in the parameters
    v2 = loopback.post(f"{url}/v2/models/churn/infer", json={
        "inputs": [
            {"name": "customer_id", "shape": [1], "datatype": "INT64", "data": [7]},
            {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["pro"]},
        ],
        "parameters": {"features": True},
    })  # fmt: skip
    assert v2.status_code == 200, v2.text
    assert v2.json()["parameters"]["features"][0]["values"] == used["values"]
    meta = loopback.get(f"{url}/v2/models/churn").json()
    assert [i["name"] for i in meta["inputs"]] == ["customer_id", "plan"]

    # stale (past its TTL) and unknown entities: 422 naming the entity and the feature
    stale = loopback.post(f"{url}/predict", json={"customer_id": 99, "plan": "pro"})
    assert stale.status_code == 422
    assert "customer:tenure of customer 99" in stale.json()["error"]
    assert "past its TTL" in stale.json()["error"]
    unknown = loopback.post(f"{url}/predict", json={"customer_id": 12345, "plan": "pro"})
    assert unknown.status_code == 422
    assert "customer 12345" in unknown.json()["error"]
    assert "no value for this entity" in unknown.json()["error"]
    missing_key = loopback.post(f"{url}/predict", json={"plan": "pro"})
    assert missing_key.status_code == 422 and "customer_id" in missing_key.json()["error"]

    # one request of 3 rows is one micro-batch: one lookup of 3 rows
    before = loopback.get(f"{url}/metrics").text
    rows = [{"customer_id": i, "plan": "basic"} for i in (1, 2, 3)]
    batch = loopback.post(f"{url}/predict", json={"instances": rows})
    assert batch.status_code == 200
    assert batch.json()["predictions"] == model.predict(x.iloc[:3].assign(plan="basic")).tolist()
    after = loopback.get(f"{url}/metrics").text
    assert _metric(after, "relay_feature_lookups_total") == (
        _metric(before, "relay_feature_lookups_total") + 1
    )
    assert _metric(after, "relay_feature_lookup_rows_total") == (
        _metric(before, "relay_feature_lookup_rows_total") + 3
    )

    # concurrent requests: exactly one lookup per micro-batch the model predicted
    async def many() -> list[int]:
        async with httpx.AsyncClient() as client:
            sent = [
                client.post(f"{url}/predict", json={"customer_id": 1 + i % 40, "plan": "plus"})
                for i in range(30)
            ]
            return [r.status_code for r in await asyncio.gather(*sent)]

    assert set(asyncio.run(many())) == {200}
    metrics = loopback.get(f"{url}/metrics").text
    batches = float(
        re.search(
            r'^relay_batch_rows_count\{model="churn",variant="v1"\} (\S+)$', metrics, re.M
        ).group(1)  # type: ignore[union-attr]
    )
    assert _metric(metrics, "relay_feature_lookups_total") == batches

    # the prediction log holds the looked-up values as the model's inputs
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    table = read_log(str(home.home / "artifacts" / "predictions")).to_pandas()
    assert {"input.customer_id", "input.tenure", "input.spend", "input.plan"} <= set(table)
    logged = table[table["input.customer_id"].astype(str) == "7"].iloc[0]
    assert logged["input.tenure"] == x["tenure"].iloc[6]
    assert logged["input.spend"] == x["spend"].iloc[6]
