"""Deployments end to end: A/B with a sticky key, outcomes, results, promote-winner; shadow;
canary; all through the `relay` CLI and a real `relay serve` process."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx

from relayml.predictions import read_log
from tests.fixtures.net import loopback
from tests.fixtures.serving import ServedHome, record
from tests.fixtures.warm_cli import run_relay


def relay(home: ServedHome, *args: str, ok: bool = True) -> str:
    """`relay ARGS` as its own process in the served home (forked from a warm parent that has
    the imports: tests/fixtures/warm_cli.py)."""
    done = run_relay(args, env=home.env, cwd=os.getcwd(), timeout=120)
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _customers(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{**record(i), "customer_id": f"c{i}"} for i in range(start, start + count)]


def test_ab_test_with_outcomes_picks_and_ships_the_winner(
    served_home: ServedHome, start_server: Any
) -> None:
    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    out = relay(
        served_home,
        "deploy", "churn", "--env", "production", "--ab", "churn/1:50,churn/3:50",
        "--sticky-key", "customer_id", "--reason", "try boosting",
    )  # fmt: skip
    assert "ab (revision 1): v1 (the alias) 50%, v3 50%, sticky on customer_id" in out
    server = start_server(served_home, ["churn@production"], RELAY_PREDICTION_FLUSH_INTERVAL="0.2")
    rows = _customers(400)
    keyed = [record(i) for i in range(20)]  # the key in a header, not in the rows
    heads = {"X-Relay-Key": "c7"}
    by_header = loopback.post(server.url + "/predict", json={"instances": keyed}, headers=heads)
    header_ids = set(by_header.json()["prediction_ids"])
    assert len(set(by_header.json()["versions"])) == 1, "a request key keeps a request together"
    first = loopback.post(server.url + "/predict", json={"instances": rows}, timeout=30).json()
    again = loopback.post(server.url + "/predict", json={"instances": rows}, timeout=30).json()
    assert first["versions"] == again["versions"], "a customer must stay on one variant"
    assert set(first["versions"]) == {1, 3}
    assert 0.35 < first["versions"].count(3) / 400 < 0.65
    # the truth: v3 was right every time, v1 wrong on most rows
    values = [
        p if v == 3 else (1 - p if i % 5 else p)
        for i, (p, v) in enumerate(zip(first["predictions"], first["versions"], strict=True))
    ]
    answer = loopback.post(
        server.url + "/v2/models/churn/outcomes",
        json={"prediction_ids": first["prediction_ids"], "values": values},
    )
    assert answer.json() == {"accepted": 400}
    server.stop(signal.SIGTERM)
    logged = read_log(str(served_home.home / "artifacts" / "predictions")).to_pylist()
    keys = {r["prediction_id"]: r["request_key"] for r in logged}
    assert {keys[i] for i in header_ids} == {"c7"}, "the header's key is logged"
    assert keys[first["prediction_ids"][5]] == "c5", "a key in the body is logged"

    report = json.loads(
        relay(served_home, "deploy", "results", "churn", "--env", "production", "--json")
    )
    assert report["winner"] == "v3" and report["metric"] == "accuracy"
    by_name = {v["name"]: v for v in report["variants"]}
    assert by_name["v3"]["metrics"]["accuracy"] == 1.0
    assert by_name["v1"]["metrics"]["accuracy"] < 0.3
    assert by_name["v1"]["predictions"] >= by_name["v1"]["outcomes"] * 2  # two requests each
    assert "v3 better on accuracy" in report["verdict"]
    table = relay(served_home, "deploy", "results", "churn", "--env", "production")
    assert "Verdict:" in table and "v3 better on accuracy" in table

    shipped = json.loads(
        relay(served_home, "deploy", "promote-winner", "churn", "--env", "production", "--json")
    )
    assert shipped["version"] == 3 and shipped["status"] == "shipped"
    assert shipped["winner"] == "v3" and "v3 better on accuracy" in shipped["verdict"]
    assert shipped["deployment"]["strategy"] == "single"
    assert "churn/3 now serves all of production" in shipped["message"]
    listing = relay(served_home, "deploy", "list")
    assert "single" in listing and "production" in listing
    history = relay(served_home, "deploy", "history", "churn", "--env", "production")
    assert "try boosting" in history and "promote-winner: churn/3" in history
    models = relay(served_home, "models", "history", "churn")
    assert "A/B winner" in models
    server = start_server(served_home, ["churn@production"])
    shipped_rows = loopback.post(server.url + "/predict", json={"instances": _customers(20)}).json()
    assert set(shipped_rows["versions"]) == {3}


def test_promote_winner_refuses_without_a_significant_winner(
    served_home: ServedHome, start_server: Any
) -> None:
    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    relay(served_home, "deploy", "churn", "-e", "production", "--ab", "churn/1:50,churn/2:50")
    server = start_server(served_home, ["churn@production"])
    answer = loopback.post(
        server.url + "/predict", json={"instances": [record(i) for i in range(9)]}
    )
    assert answer.status_code == 200
    server.stop(signal.SIGTERM)
    refused = relay(served_home, "deploy", "promote-winner", "churn", "-e", "production", ok=False)
    assert "no winner on accuracy yet" in refused and "--version N" in refused
    assert "Traceback" not in refused


def test_promote_winner_with_nothing_to_compare_says_so_in_one_clean_sentence(
    served_home: ServedHome, start_server: Any
) -> None:
    """No predictions yet, then one variant only: why there is no winner, one full stop each."""
    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    args = ("deploy", "promote-winner", "churn", "-e", "production")
    refused = " ".join(relay(served_home, *args, ok=False).split())
    assert "no predictions logged yet for this deployment. To ship a version anyway" in refused
    server = start_server(served_home, ["churn@production"])
    answer = loopback.post(
        server.url + "/predict", json={"instances": [record(i) for i in range(5)]}
    )
    assert answer.status_code == 200
    server.stop(signal.SIGTERM)
    refused = " ".join(relay(served_home, *args, ok=False).split())
    assert (
        "only one variant (v1) is deployed: nothing to compare. To ship a version anyway, name "
        "it: relay deploy promote-winner churn --env production --version N."
    ) in refused, refused
    assert ".." not in refused
    results = relay(served_home, "deploy", "results", "churn", "-e", "production")
    assert "nothing to compare" in results and ".." not in results


def test_shadow_answers_are_logged_and_never_returned(
    served_home: ServedHome, start_server: Any
) -> None:
    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    relay(served_home, "deploy", "churn", "--env", "production", "--shadow", "churn/2")
    server = start_server(served_home, ["churn@production"])
    meta = loopback.get(server.url + "/v2/models/churn").json()["parameters"]["variants"]
    assert [(v["version"], v["mode"]) for v in meta] == [(1, "live"), (2, "shadow")]
    ids = []
    for i in range(30):
        body = loopback.post(server.url + "/predict", json=record(i)).json()
        assert body["versions"] == [1]
        ids += body["prediction_ids"]
    server.stop(signal.SIGTERM)
    log = read_log(str(served_home.home / "artifacts" / "predictions")).to_pylist()
    live = {r["prediction_id"] for r in log if r["mode"] == "live"}
    shadow = {r["prediction_id"] for r in log if r["mode"] == "shadow"}
    assert live == set(ids) and shadow == set(ids)
    assert {r["version"] for r in log if r["mode"] == "shadow"} == {2}
    shown = json.loads(relay(served_home, "predictions", "show", ids[0], "--json"))
    assert (shown["version"], shown["mode"]) == (1, "live")
    assert [(s["version"], s["mode"]) for s in shown["shadows"]] == [(2, "shadow")]
    assert shown["shadows"][0]["inputs"] == shown["inputs"]
    table = relay(served_home, "predictions", "show", ids[0])
    assert "shadow v2" in table and "churn/1 (v1, live)" in table
    only = json.loads(relay(served_home, "predictions", "show", ids[0], "--shadow", "--json"))
    assert [(s["version"], s["mode"]) for s in only] == [(2, "shadow")]


def test_canary_gets_its_share_and_cli_errors_are_clear(
    served_home: ServedHome, start_server: Any
) -> None:
    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    relay(served_home, "deploy", "churn", "--env", "production", "--canary", "churn/2:30")
    server = start_server(served_home, ["churn@production"])
    with httpx.Client(base_url=server.url) as client:  # one connection: 300 requests
        versions = [
            client.post("/predict", json=record(i)).json()["versions"][0] for i in range(300)
        ]
    assert 0.15 < versions.count(2) / 300 < 0.45
    for args, words in [
        (["--canary", "churn/2:100"], "below 100%"),
        (["--ab", "churn/1:50,churn/2:40"], "add up to 90%"),
        (["--canary", "churn/2:10", "--shadow", "churn/3"], "choose one strategy"),
        (["--canary", "fraud/2:10"], "same model"),
        (["--canary", "churn/9:10"], "no version 9"),
    ]:
        said = relay(served_home, "deploy", "churn", "--env", "production", *args, ok=False)
        assert words in said and "Traceback" not in said, said
    nothing = relay(served_home, "deploy", "churn", "--env", "staging", ok=False)
    assert "no version of 'churn' is in staging" in nothing


def test_a_canary_gets_its_share_of_the_rows_of_large_requests(
    served_home: ServedHome, start_server: Any
) -> None:
    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    relay(served_home, "deploy", "churn", "--env", "production", "--canary", "churn/2:10")
    server = start_server(served_home, ["churn@production"])
    versions: list[int] = []
    for request in range(7):
        rows = [record(request * 100 + i) for i in range(100)]
        body = loopback.post(server.url + "/predict", json={"instances": rows}, timeout=30).json()
        assert set(body["versions"]) == {1, 2}, "every 100-row request reaches both variants"
        versions += body["versions"]
    assert 0.04 < versions.count(2) / len(versions) < 0.17
    tensors = [
        {"name": "tenure", "shape": [100], "datatype": "INT64", "data": list(range(1, 101))},
        {"name": "monthly", "shape": [100], "datatype": "FP64", "data": [50.0] * 100},
        {"name": "plan", "shape": [100], "datatype": "BYTES", "data": ["pro"] * 100},
    ]
    infer = loopback.post(server.url + "/v2/models/churn/infer", json={"inputs": tensors}).json()
    assert set(infer["parameters"]["versions"]) == {1, 2}
    assert set(infer["model_version"].split(",")) == {"1", "2"}
    bad = [*[record(i) for i in range(40)], {"tenure": 3, "monthly": "x", "plan": "pro"}]
    refused = loopback.post(server.url + "/predict", json={"instances": bad})
    assert refused.status_code == 422
    assert "column 'monthly', row 40" in refused.json()["error"], "the row's place in the request"


def test_a_canary_of_the_version_already_live_is_refused(served_home: ServedHome) -> None:
    relay(served_home, "models", "promote", "churn/2", "--to", "production")
    said = relay(
        served_home, "deploy", "churn", "--env", "production", "--canary", "churn/2:10", ok=False
    )
    assert "churn/2 is already what production serves" in said and "Traceback" not in said, said
    assert "no deployments yet" in relay(served_home, "deploy", "list").lower()
