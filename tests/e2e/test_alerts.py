"""Alerts end to end: a rule fires once, is delivered to a real HTTP receiver, starts a retraining
pipeline, is acknowledged, and resolves when the figure recovers; the server's scheduler too."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_deployments import relay
from tests.e2e.test_monitoring import _log_model_with_its_data, _send, _wait_for_rows
from tests.fixtures.net import loopback
from tests.fixtures.serving import FEATURES, ServedHome, churn_frame
from tests.fixtures.warm_cli import run_relay, spawn_relay

PIPELINE = """
from pathlib import Path
import relayml as relay

@relay.step
def mark() -> int:
    Path({marker!r}).write_text("retrained")
    return 1

@relay.pipeline
def retrain():
    return mark()
"""


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real local HTTP server that records the JSON bodies POSTed to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def _monitor(home: ServedHome) -> tuple[int, list[dict[str, Any]]]:
    done = run_relay(["monitor", "run", "--json"], env=home.env, cwd=os.getcwd())
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _rows(count: int, seed: int, shift: float = 0.0) -> list[dict[str, Any]]:
    frame = churn_frame(count, seed=seed)
    frame["monthly"] = frame["monthly"] + shift
    return frame[FEATURES].to_dict("records")


def test_an_alert_fires_once_is_delivered_and_resolves(
    served_home: ServedHome,
    start_server: Any,
    receiver: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    url, received = receiver
    marker = tmp_path / "retrained.txt"
    flows = tmp_path / "flows.py"
    flows.write_text(PIPELINE.format(marker=str(marker)))
    _log_model_with_its_data(served_home)
    relay(served_home, "models", "promote", "churn/4", "--to", "production")
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        f"""
alerts:
  - name: prices moved
    model: churn
    env: production
    figure: drift:monthly
    above: 0.2
    window: hour
    severity: critical
    webhook: {url}
    retrain: {flows}:retrain
  - name: no traffic
    model: churn
    figure: traffic
    below: 1
    window: hour
"""
    )
    assert "2 alert rule(s) active" in relay(served_home, "alerts", "set", str(rules))
    assert "drift:monthly > 0.2" in relay(served_home, "alerts", "list")
    code, results = _monitor(served_home)  # nothing served yet: no traffic fires
    assert code == 1
    assert [r["outcome"] for r in results] == ["no data", "fired"]

    server = start_server(served_home, ["churn@production"], RELAY_PREDICTION_FLUSH_INTERVAL="0.2")
    _send(server.url, _rows(800, seed=1))
    _wait_for_rows(served_home, 800)
    code, results = _monitor(served_home)
    assert code == 0 and [r["outcome"] for r in results] == ["ok", "resolved"]
    assert received == []

    _send(server.url, _rows(200, seed=2, shift=45.0))
    _wait_for_rows(served_home, 1000)
    code, results = _monitor(served_home)
    assert code == 1 and results[0]["outcome"] == "fired" and results[0]["value"] > 0.2
    code, results = _monitor(served_home)
    assert code == 1 and results[0]["outcome"] == "still firing"
    assert [(r["status"], r["rule"], r["severity"]) for r in received] == [
        ("open", "prices moved", "critical")
    ]
    event_id = received[0]["event_id"]
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.read_text() == "retrained", "the rule's retraining pipeline did not run"
    assert "acknowledged by dana" in relay(served_home, "alerts", "ack", str(event_id))
    active = json.loads(relay(served_home, "alerts", "events", "--json"))
    assert [(e["id"], e["status"]) for e in active] == [(event_id, "acknowledged")]

    for seed in range(3, 11):  # calm traffic dilutes the shifted rows below the threshold
        _send(server.url, _rows(1000, seed=seed))
    _wait_for_rows(served_home, 9000)
    code, results = _monitor(served_home)
    assert code == 0 and results[0]["outcome"] == "resolved" and results[0]["value"] < 0.2
    assert [(r["status"], r["event_id"]) for r in received] == [
        ("open", event_id),
        ("resolved", event_id),
    ]
    events = json.loads(relay(served_home, "alerts", "events", "--all", "--json"))
    ours = next(e for e in events if e["id"] == event_id)
    assert ours["status"] == "resolved"
    targets = [d["to"] for d in ours["deliveries"]]
    assert targets.count(url) == 2 and f"pipeline {flows}:retrain" in targets
    assert relay(served_home, "alerts", "events").strip() == "No alerts active."


def test_bad_alert_files_are_refused_clearly(served_home: ServedHome, tmp_path: Path) -> None:
    cases = {
        "alerts: 3": "followed by a list",
        "alerts:\n  - {name: a, model: churn, figure: nope, above: 1}": "unknown figure 'nope'",
        "alerts:\n  - {name: a, model: churn, figure: traffic}": "exactly one of above",
        "alerts:\n  - {name: a, model: churn, figure: traffic, below: 1, colour: red}": "colour",
        "alerts:\n  - {name: a, model: churn, figure: traffic, below: 1, webhook: ftp://x}": "http",
    }
    for text, words in cases.items():
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        said = relay(served_home, "alerts", "set", str(path), ok=False)
        assert words in said and "Traceback" not in said, said
    assert "no alert rules" in relay(served_home, "monitor", "run", ok=False)


def test_relay_server_runs_the_monitors_on_its_own(served_home: ServedHome, tmp_path: Path) -> None:
    from tests.fixtures.auth import ADMIN_TOKEN
    from tests.fixtures.net import free_port, wait_for_port

    rules = tmp_path / "alerts.yaml"
    rules.write_text("alerts:\n  - {name: quiet, model: churn, figure: traffic, below: 1}\n")
    relay(served_home, "alerts", "set", str(rules))
    port = free_port()
    # auth on, as by default: the first administrator's token is ADMIN_TOKEN
    env = {**served_home.env, "RELAY_MONITOR_INTERVAL": "0.5", "RELAY_BOOTSTRAP_TOKEN": ADMIN_TOKEN}
    signed = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    proc = spawn_relay(
        ["server", "--port", str(port)], env=env, cwd=tmp_path, stdout=tmp_path / "server.log"
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        deadline = time.monotonic() + 30
        events: list[Any] = []
        while not events and time.monotonic() < deadline:
            url = f"http://127.0.0.1:{port}/api/v1/projects/churn/alerts"
            events = loopback.get(url, headers=signed).json()
            time.sleep(0.3)
        assert [e["rule"] for e in events] == ["quiet"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_error_rate_counts_failed_prediction_requests(
    served_home: ServedHome, start_server: Any, tmp_path: Path
) -> None:
    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "alerts:\n  - {name: failing, model: churn, figure: error_rate, above: 0.1, window: hour}\n"
    )
    relay(served_home, "alerts", "set", str(rules))
    server = start_server(served_home, ["churn@production"], RELAY_PREDICTION_FLUSH_INTERVAL="0.2")
    good = {"tenure": 3, "monthly": 40.0, "plan": "basic"}
    for body in (good, good, good, {"tenure": "three"}):
        loopback.post(server.url + "/predict", json=body)
    inputs = [{"name": "tenure", "shape": [1], "datatype": "INT64", "data": [1]}]
    assert loopback.post(server.url + "/v2/models/churn/infer", json={"inputs": inputs}).is_error
    time.sleep(1.0)
    code, results = _monitor(served_home)
    assert code == 1 and results[0]["outcome"] == "fired"
    assert (
        results[0]["value"] == 2 / 5 and "2 of 5 prediction requests failed" in results[0]["detail"]
    )
