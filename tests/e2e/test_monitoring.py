"""Monitoring a served deployment: drift against the training data, performance with late labels."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.test_deployments import relay
from tests.fixtures.net import loopback
from tests.fixtures.serving import FEATURES, ServedHome, churn_frame


def _log_model_with_its_data(home: ServedHome) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import relayml as relay_sdk

    relay_sdk.init(project="churn", home=home.home, user="dana")
    frame = churn_frame(2000, seed=3)
    relay_sdk.log_dataset("customers", frame)
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["tenure", "monthly"]), ("cat", OneHotEncoder(), ["plan"])]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression())])
    model.fit(frame[FEATURES], frame["churned"])
    version = relay_sdk.log_model(model, "churn", frame[FEATURES].head(5), datasets=["customers"])
    assert version.version == 4


def _send(url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = loopback.post(url + "/predict", json={"instances": rows}, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _wait_for_rows(home: ServedHome, count: int) -> None:
    from relayml.predictions import read_log

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        table = read_log(str(home.home / "artifacts" / "predictions"))
        if table.num_rows >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"the prediction log did not reach {count} rows")


def test_drift_and_performance_of_a_served_model(
    served_home: ServedHome, start_server: Any
) -> None:
    _log_model_with_its_data(served_home)
    relay(served_home, "models", "promote", "churn/4", "--to", "production")
    server = start_server(served_home, ["churn@production"], RELAY_PREDICTION_FLUSH_INTERVAL="0.2")
    calm = churn_frame(800, seed=11)[FEATURES].to_dict("records")
    first = _send(server.url, calm)
    _wait_for_rows(served_home, 800)
    stable = json.loads(
        relay(served_home, "monitor", "drift", "churn", "--env", "production", "--json")
    )
    assert stable["reference"] == "customers@1"
    (window,) = stable["windows"]
    assert window["rows"] == 800 and window["drifted_columns"] == []
    assert window["dataset_drifted"] is False

    # --since takes whole seconds: the moment is the next whole second, after every first row
    after = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    moment = after.isoformat().replace("+00:00", "")
    time.sleep((after - datetime.now(UTC)).total_seconds() + 0.1)
    shifted = churn_frame(800, seed=12)
    shifted["monthly"] = shifted["monthly"] + 45  # prices went up
    _send(server.url, shifted[FEATURES].to_dict("records"))
    _wait_for_rows(served_home, 1600)
    moved = json.loads(
        relay(
            served_home,
            "monitor",
            "drift",
            "churn",
            "--env",
            "production",
            "--since",
            moment,
            "--json",
        )
    )
    (window,) = moved["windows"]
    assert window["rows"] == 800 and window["drifted_columns"] == ["monthly"]
    assert window["prediction"]["drifted"] is True  # higher prices: more churn predicted
    text = relay(served_home, "monitor", "drift", "churn", "--env", "production")
    assert "monthly" in text and "Latest window" in text

    truth = [1 - p if i % 4 == 0 else p for i, p in enumerate(first["predictions"])]
    half = len(truth) // 2
    outcomes = {"prediction_ids": first["prediction_ids"][:half], "values": truth[:half]}
    assert loopback.post(server.url + "/v2/models/churn/outcomes", json=outcomes).status_code == 200
    time.sleep(1.0)
    (day,) = json.loads(
        relay(served_home, "monitor", "performance", "churn", "--env", "production", "--json")
    )
    assert day["predictions"] == 1600 and day["outcomes"] == half
    assert abs(day["metrics"]["accuracy"] - 0.75) < 0.01
    assert 0.5 < day["estimated"]["accuracy"] <= 1.0
    shown = relay(served_home, "monitor", "performance", "churn", "-e", "production")
    assert "accuracy (estimated)" in shown


def test_monitoring_says_what_is_missing(served_home: ServedHome) -> None:
    said = relay(served_home, "monitor", "drift", "churn", "--env", "production", ok=False)
    assert "no predictions of churn in production are logged" in said
    said = relay(
        served_hom := served_home, "monitor", "drift", "nope", "-e", "production", ok=False
    )
    assert "model 'nope' does not exist" in said and "Traceback" not in said
    said = relay(
        served_hom, "monitor", "performance", "churn", "-e", "production", "-w", "month", ok=False
    )
    assert "unknown window 'month'" in said


def test_an_expert_flags_a_prediction_and_a_data_scientist_resolves_it(
    served_home: ServedHome, start_server: Any
) -> None:
    from relayml.predictions import read_log

    server = start_server(served_home, ["churn/2"], RELAY_PREDICTION_FLUSH_INTERVAL="0.2")
    rows = churn_frame(3, seed=5)[FEATURES].to_dict("records")
    answer = _send(server.url, rows)
    _wait_for_rows(served_home, 3)
    first, second = answer["prediction_ids"][:2]
    said = relay(
        served_home, "feedback", "flag", first, "--correct", "0", "-m", "loyal for ten years"
    )
    assert "is wrong; the right answer 0 is recorded as its outcome" in said
    refused = relay(served_home, "feedback", "flag", second, "--correct", "not-a-label", ok=False)
    assert "'not-a-label' is not a class of churn/2; its classes are 0, 1" in refused, refused
    assert "Traceback" not in refused
    relay(served_home, "feedback", "flag", second, "--unexpected", "-m", "odd for a pro plan")
    listed = json.loads(relay(served_home, "feedback", "list", "--model", "churn", "--json"))
    assert [f["prediction_id"] for f in listed] == [second, first]
    assert listed[1]["prediction"]["inputs"] == rows[0]
    assert listed[1]["prediction"]["version"] == 2 and listed[1]["correct_value"] == 0
    table = relay(served_home, "feedback", "list")
    assert "loyal for ten years" in table and "unexpected" in table
    explained = json.loads(relay(served_home, "feedback", "list", "--explain", "--json"))
    assert all(f["explanation"].count(",") == 2 for f in explained)  # three strongest inputs
    assert "strongest" in relay(served_home, "feedback", "list", "--explain")
    outcomes = read_log(str(served_home.home / "artifacts" / "outcomes")).to_pylist()
    assert [(o["prediction_id"], o["label"], o["source"]) for o in outcomes] == [
        (first, "0", "feedback")
    ]
    shown = json.loads(relay(served_home, "predictions", "show", first, "--json"))
    assert shown["inputs"] == rows[0] and shown["version"] == 2 and shown["mode"] == "live"
    assert "input tenure" in relay(served_home, "predictions", "show", first)
    flag_id = str(listed[1]["id"])
    assert "resolved by dana" in relay(served_home, "feedback", "resolve", flag_id, "-m", "noted")
    again = relay(served_home, "feedback", "resolve", flag_id, "-m", "twice", ok=False)
    assert "already resolved" in again
    assert len(json.loads(relay(served_home, "feedback", "list", "--json"))) == 1
    assert len(json.loads(relay(served_home, "feedback", "list", "--all", "--json"))) == 2
    missing = relay(served_home, "feedback", "flag", "0" * 24, ok=False)
    assert "is not in project 'churn'" in missing and "Traceback" not in missing
    assert "not a prediction id" in relay(served_home, "feedback", "flag", "nope", ok=False)
    audit = relay(served_home, "audit")
    assert "feedback.flag" in audit and "feedback.resolve" in audit


def test_explain_a_prediction_and_a_version(served_home: ServedHome, start_server: Any) -> None:
    _log_model_with_its_data(served_home)
    server = start_server(served_home, ["churn/4"], RELAY_PREDICTION_FLUSH_INTERVAL="0.2")
    row = {"tenure": 2, "monthly": 95.0, "plan": "basic"}
    answer = _send(server.url, [row])
    _wait_for_rows(served_home, 1)
    (prediction_id,) = answer["prediction_ids"]
    why = json.loads(relay(served_home, "explain", prediction_id, "--json"))
    assert why["columns"] == FEATURES and why["values"] == [2, 95.0, "basic"]
    assert why["version"] == 4 and "Shapley" in why["method"]
    total = why["base_value"] + sum(why["contributions"])
    assert abs(total - answer["probabilities"][0][1]) < 1e-6  # explains P(churned=1)
    assert why["contributions"][0] > 0  # a short tenure pushes churn up
    shown = relay(served_home, "explain", prediction_id)
    assert "tenure" in shown and "on average" in shown
    importance = json.loads(relay(served_home, "explain", "churn/4", "--global", "--json"))
    assert importance["data"] == "customers@1" and set(importance["importance"]) == set(FEATURES)
    said = relay(served_home, "explain", "churn/1", "--global", ok=False)
    assert "without its training dataset" in said and "Traceback" not in said
