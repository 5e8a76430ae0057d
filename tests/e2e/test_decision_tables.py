"""Decision tables end to end: tested on a dataset, applied, returned by the server, reloaded."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from relayml.predictions import read_log
from tests.e2e.test_deployments import relay
from tests.e2e.test_monitoring import _log_model_with_its_data, _wait_for_rows
from tests.fixtures.net import loopback
from tests.fixtures.serving import FEATURES, ServedHome, churn_frame

TABLE = """
hit_policy: first
default: none
rules:
  - name: save the valuable
    when: {{score: ">= 0.5", monthly: ">= 70"}}
    action: {first}
  - name: nudge
    when: {{score: ">= 0.3"}}
    action: email
"""


def _expected(score: float, monthly: float, first: str) -> str:
    if score >= 0.5 and monthly >= 70:
        return first
    return "email" if score >= 0.3 else "none"


def test_a_decision_table_is_tested_applied_served_and_reloaded(
    served_home: ServedHome, start_server: Any, tmp_path: Path
) -> None:
    _log_model_with_its_data(served_home)
    path = tmp_path / "decisions.yaml"
    path.write_text(TABLE.format(first="call"))
    tried = json.loads(
        relay(
            served_home,
            "decisions",
            "test",
            "churn",
            str(path),
            "--data",
            "customers@latest",
            "--version",
            "churn/4",
            "--json",
        )
    )
    by_name = {hit["name"]: hit for hit in tried}
    assert sum(hit["decides"] for hit in tried) == 2000
    assert (
        by_name["save the valuable"]["overlaps"]["nudge"] == by_name["save the valuable"]["matches"]
    )
    assert by_name["nudge"]["matches"] > by_name["nudge"]["decides"]  # first policy: rule 1 wins
    shown = relay(served_home, "decisions", "test", "churn", str(path), "--data", "customers@1")
    assert "save the valuable" in shown and "first hit policy on 2000 rows" in shown

    assert "revision 1 (2 rules) applied" in relay(
        served_home, "decisions", "apply", "churn", str(path)
    )
    assert "save the valuable" in relay(served_home, "decisions", "show", "churn")
    server = start_server(
        served_home,
        ["churn/4"],
        RELAY_PREDICTION_FLUSH_INTERVAL="0.2",
        RELAY_SERVE_RELOAD_INTERVAL="0.2",
    )
    rows = churn_frame(200, seed=8)[FEATURES].to_dict("records")
    body = loopback.post(server.url + "/predict", json={"instances": rows}, timeout=30).json()
    scores = [p[1] for p in body["probabilities"]]
    expected = [_expected(s, r["monthly"], "call") for s, r in zip(scores, rows, strict=True)]
    assert body["decisions"] == expected
    assert {"call", "email", "none"} <= set(expected), "the data should reach every rule"
    _wait_for_rows(served_home, 200)
    logged = read_log(str(served_home.home / "artifacts" / "predictions")).to_pylist()
    by_id = {r["prediction_id"]: r for r in logged}
    assert [by_id[i]["decision"] for i in body["prediction_ids"]] == expected
    assert {r["decision_revision"] for r in logged} == {1}

    inputs = [
        {"name": "tenure", "shape": [1], "datatype": "INT64", "data": [rows[0]["tenure"]]},
        {"name": "monthly", "shape": [1], "datatype": "FP64", "data": [rows[0]["monthly"]]},
        {"name": "plan", "shape": [1], "datatype": "BYTES", "data": [rows[0]["plan"]]},
    ]
    v2 = loopback.post(server.url + "/v2/models/churn/infer", json={"inputs": inputs}).json()
    assert v2["outputs"][-1] == {
        "name": "decision", "shape": [1], "datatype": "BYTES", "data": [expected[0]]
    }  # fmt: skip

    path.write_text(TABLE.format(first="visit"))
    relay(served_home, "decisions", "apply", "churn", str(path))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        again = loopback.post(server.url + "/predict", json={"instances": rows}, timeout=30).json()
        if "visit" in again["decisions"]:
            break
        time.sleep(0.2)
    assert again["decisions"] == [d.replace("call", "visit") for d in expected]


def test_a_bad_decision_table_is_refused_with_the_fields_it_may_use(
    served_home: ServedHome, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.yaml"
    path.write_text('rules:\n  - {name: a, when: {value: ">= 500"}, action: call}\n')
    said = relay(served_home, "decisions", "apply", "churn", str(path), ok=False)
    assert "value" in said and "monthly" in said and "Traceback" not in said
    path.write_text('rules:\n  - {name: a, when: {plan: ">= 5"}, action: call}\n')
    said = relay(served_home, "decisions", "apply", "churn", str(path), ok=False)
    assert "compares a text field with >=" in said
    said = relay(served_home, "decisions", "show", "churn", ok=False)
    assert "has no a decision table" not in said and "relay decisions apply churn" in said
