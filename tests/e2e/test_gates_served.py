"""The registry and the deployments tell one story (issue #12, item 5): after every way of
deploying, `relay models list`, `relay models history`, `relay deploy list` and what a real
`relay serve churn@production` answers agree on the version that holds production."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e.test_deployments import relay
from tests.fixtures.net import loopback
from tests.fixtures.serving import ServedHome, record


def _served(url: str) -> set[int]:
    rows = [record(i) for i in range(200)]
    body = loopback.post(url + "/predict", json={"instances": rows}, timeout=30).json()
    return set(body["versions"])


def agree(home: ServedHome, url: str | None, holder: int, live: set[int]) -> None:
    """Every view names `holder` for production, and production answers with `live`."""
    models = json.loads(relay(home, "models", "list", "--json"))
    assert [m["aliases"].get("production") for m in models] == [holder]
    history = json.loads(relay(home, "models", "history", "churn", "--json"))
    now = [e["version"] for e in history["aliases"] if e["alias"] == "production"]
    assert now and now[-1] == holder
    assert [e["ended_at"] is None for e in history["aliases"] if e["alias"] == "production"][-1]
    (deployment,) = json.loads(relay(home, "deploy", "list", "--json"))
    variants = deployment["variants"]
    resolved = {v["version"] or holder for v in variants if v["mode"] == "live"}
    assert resolved == live, variants
    assert [v for v in variants if v["version"] is None and v["mode"] == "live"], variants
    if url is None:
        return
    deadline = time.monotonic() + 60  # the server polls for changes; wait, never time it
    seen = _served(url)
    while seen != live and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = _served(url)
    assert seen == live, f"production answers with {seen}, the registry says {holder}"


def test_every_way_of_deploying_keeps_registry_deployments_and_server_in_step(
    served_home: ServedHome, start_server: Any
) -> None:
    deploy = ("deploy", "churn", "--env", "production")
    out = relay(served_home, *deploy, "--version", "1")
    assert "v1 (the alias) 100%" in out
    server = start_server(served_home, ["churn@production"], RELAY_SERVE_RELOAD_INTERVAL="0.2")
    agree(served_home, server.url, 1, {1})
    relay(served_home, *deploy, "--canary", "churn/2:30")
    agree(served_home, server.url, 1, {1, 2})
    relay(served_home, *deploy, "--ab", "churn/1:50,churn/3:50")
    agree(served_home, server.url, 1, {1, 3})
    relay(served_home, *deploy, "--shadow", "churn/2")
    agree(served_home, server.url, 1, {1})
    relay(served_home, *deploy, "--version", "3", "--reason", "boosting")
    agree(served_home, server.url, 3, {3})
    relay(served_home, "models", "promote", "churn/2", "--to", "production")
    agree(served_home, server.url, 2, {2})
    relay(served_home, *deploy, "--canary", "churn/1:20")
    agree(served_home, server.url, 2, {1, 2})
    relay(served_home, "models", "promote", "churn/1", "--to", "production")  # the canary's
    agree(served_home, server.url, 1, {1})
    relay(served_home, *deploy, "--ab", "churn/1:50,churn/3:50")
    relay(served_home, "deploy", "promote-winner", "churn", "--env", "production", "-v", "3")
    agree(served_home, server.url, 3, {3})
    history = relay(served_home, "models", "history", "churn")
    assert "boosting" in history


def test_a_refused_deployment_changes_no_view(served_home: ServedHome) -> None:
    policy = served_home.home / "relay.yaml"
    policy.write_text(
        "environments:\n  production:\n    requires: [staging]\n"
        "    approvals: [{role: risk_manager}]\n"
    )
    relay(served_home, "policy", "set", str(policy))
    relay(served_home, "projects", "add-member", "churn", "rita", "risk_manager")
    relay(served_home, "models", "promote", "churn/3", "--to", "staging")
    relay(served_home, "models", "promote", "churn/3", "--to", "production")
    rita = ServedHome(served_home.home, served_home.env | {"RELAY_USER": "rita"})
    relay(rita, "models", "approve", "churn/3", "-e", "production")
    relay(served_home, "deploy", "churn", "--env", "production")
    agree(served_home, None, 3, {3})
    for args in (
        ("--version", "2"),
        ("--canary", "churn/2:10"),
        ("--ab", "churn/3:50,churn/2:50"),
    ):
        said = relay(served_home, "deploy", "churn", "--env", "production", *args, ok=False)
        assert "churn/2" in said and "Traceback" not in said, said
        assert "relay models promote churn/2 --to" in said, said
    said = relay(
        served_home, "deploy", "promote-winner", "churn", "-e", "production", "-v", "2", ok=False
    )
    assert "did not pass the production gates" in said and "Traceback" not in said, said
    agree(served_home, None, 3, {3})
    audit = relay(served_home, "audit", "--json")
    assert "deployment.update" in audit


def test_a_canary_clearance_from_the_command_line(served_home: ServedHome) -> None:
    policy = served_home.home / "relay.yaml"
    policy.write_text(
        "environments:\n  production:\n    approvals: [{role: risk_manager}]\n"
        "    canary: {approvals: [{role: devops}], max_weight: 25}\n"
    )
    relay(served_home, "policy", "set", str(policy))
    for user, role in (("rita", "risk_manager"), ("dan", "devops"), ("sam", "data_scientist")):
        relay(served_home, "projects", "add-member", "churn", user, role)

    def as_user(name: str) -> ServedHome:
        return ServedHome(served_home.home, served_home.env | {"RELAY_USER": name})

    relay(served_home, "models", "promote", "churn/1", "--to", "production")
    said = relay(as_user("sam"), "models", "approve", "churn/1", "-e", "production", ok=False)
    assert "sam may not approve or reject a promotion into production" in said, said
    said = relay(served_home, "models", "approve", "churn/1", "-e", "production", ok=False)
    assert "dana logged churn/1 and so may not approve or reject it for production" in said
    relay(as_user("rita"), "models", "approve", "churn/1", "-e", "production")
    refused = relay(served_home, "audit", "--kind", "promotion.refused", "--json")
    assert [e["actor"] for e in json.loads(refused)] == ["dana", "sam"]

    canary = ("deploy", "churn", "--env", "production", "--canary", "churn/2:10")
    said = relay(served_home, *canary, ok=False)
    assert "relay models promote churn/2 --to production --canary" in said, said
    checked = relay(served_home, "check", "model", "churn/2", "-e", "production", "--canary")
    assert "Approvals still needed: 1 x devops" in checked, checked
    asked = relay(served_home, "models", "promote", "churn/2", "--to", "production", "--canary")
    assert "waits for approval by devops" in asked, asked
    assert "relay models approve churn/2 --env production --canary" in asked, asked
    cleared = relay(as_user("dan"), "models", "approve", "churn/2", "-e", "production", "--canary")
    assert "churn/2 is cleared to serve production as a canary" in cleared, cleared
    assert "v1 (the alias) 90%, v2 10%" in relay(served_home, *canary)
