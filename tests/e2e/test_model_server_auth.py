"""`relay serve --auth`: tokens checked against the store, roles for outcomes, nothing logged.

Real `relay serve` processes on the churn store; users, tokens and roles are written to that
store while the server runs, as `relay users` / `relay tokens` would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from relayml.identity.tokens import create_token, list_tokens, revoke_token
from relayml.identity.users import add_user
from relayml.predictions import read_log
from relayml.projects.members import add_member
from relayml.store import Store
from tests.fixtures.net import loopback
from tests.fixtures.serving import ModelServerProcess, ServedHome, record
from tests.fixtures.warm_cli import run_relay

NO_CACHE = {"RELAY_SERVE_AUTH_CACHE_SECONDS": "0"}


@dataclass
class People:
    """Tokens of the churn store's callers."""

    store: Store
    app: str  # predict scope; user "app" holds no role
    sam: str  # predict scope; user "sam" is a software_engineer of churn (outcomes.write)
    ann: str  # api scope; user "ann" is a viewer of churn


def _people(home: ServedHome) -> People:
    store = Store(f"sqlite:///{home.home / 'relay.db'}")
    for name in ("app", "sam", "ann"):
        add_user(store, "dana", name)
    add_member(store, "dana", "churn", "sam", "software_engineer")
    add_member(store, "dana", "churn", "ann", "viewer")
    _, app = create_token(store, "dana", "app", "checkout", scopes=["predict"])
    _, sam = create_token(store, "dana", "sam", "labels", scopes=["predict"])
    _, ann = create_token(store, "dana", "ann", "laptop", scopes=["api"])
    return People(store, app, sam, ann)


@pytest.fixture
def people(served_home: ServedHome) -> Any:
    found = _people(served_home)
    yield found
    found.store.dispose()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    for word in words:
        assert word in response.json()["error"]
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def _access(server: ModelServerProcess) -> list[dict[str, Any]]:
    """The access log's lines (JSON) of a server, read once it has stopped: a line is
    written after its response has gone out, so a running server may still owe one."""
    assert server.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal when done
    lines = server.output().splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"ts"') and '"path"' in line]


def _revoke_all(store: Store, user: str) -> None:
    for token in list_tokens(store, user):
        revoke_token(store, "dana", token.id)


def test_every_inference_route_needs_a_valid_token(
    served_home: ServedHome, people: People, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/2"], "--auth", **NO_CACHE)
    url = server.url
    # health, readiness, server metadata and metrics stay open: probes and scrapers
    for path in ("/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/churn/ready"):
        assert loopback.get(url + path).status_code == 200, path
    assert "relay_http_requests_total" in loopback.get(url + "/metrics").text
    v2 = {"inputs": [{"name": "tenure", "shape": [1], "datatype": "INT64", "data": [3]}]}
    v2["inputs"] += [
        {"name": "monthly", "shape": [1], "datatype": "FP64", "data": [20.0]},
        {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["pro"]},
    ]
    routes = [
        ("POST", "/predict", record(0)),
        ("POST", "/v2/models/churn/infer", v2),
        ("POST", "/v2/models/churn/versions/2/infer", v2),
        ("GET", "/v2/models/churn", None),
        ("GET", "/v2/models/churn/versions/2", None),
        ("POST", "/v2/models/churn/outcomes", {"prediction_ids": [], "values": []}),
        ("GET", "/no/such/route", None),
    ]
    for method, path, body in routes:
        _refused(loopback.request(method, url + path, json=body), 401, "Bearer")
        wrong = loopback.request(
            method, url + path, json=body, headers=_bearer("relay_" + "x" * 43)
        )
        _refused(wrong, 401, "revoked")
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        basic = loopback.request(
            method, url + path, json=body, headers={"Authorization": "Basic a"}
        )
        _refused(basic, 401)
    for token in (people.app, people.ann):  # the predict scope, or the api scope
        answer = loopback.post(url + "/predict", json=record(1), headers=_bearer(token))
        assert answer.status_code == 200, answer.text
        infer = loopback.post(url + "/v2/models/churn/infer", json=v2, headers=_bearer(token))
        assert infer.status_code == 200, infer.text
        assert loopback.get(url + "/v2/models/churn", headers=_bearer(token)).status_code == 200
    lines = [line for line in _access(server) if line["path"] == "/predict"]
    assert {(line["status"], line.get("user")) for line in lines} == {
        (401, None),
        (200, "app"),
        (200, "ann"),
    }


def test_a_revoked_token_fails_at_once_on_every_server_sharing_the_store(
    served_home: ServedHome, people: People, start_server: Any
) -> None:
    first = start_server(served_home, ["churn/2"], "--auth", **NO_CACHE)
    second = start_server(served_home, ["churn/2"], "--auth", **NO_CACHE)
    for server in (first, second):
        ok = loopback.post(server.url + "/predict", json=record(0), headers=_bearer(people.app))
        assert ok.status_code == 200, ok.text
    _revoke_all(people.store, "app")
    for server in (first, second):
        again = loopback.post(server.url + "/predict", json=record(0), headers=_bearer(people.app))
        _refused(again, 401, "revoked")
    still = loopback.post(first.url + "/predict", json=record(0), headers=_bearer(people.sam))
    assert still.status_code == 200  # only that token


def test_with_the_default_cache_a_revoked_token_fails_within_the_second(
    served_home: ServedHome, people: People, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/2"], "--auth")
    headers = _bearer(people.app)
    assert (
        loopback.post(server.url + "/predict", json=record(0), headers=headers).status_code == 200
    )
    _revoke_all(people.store, "app")
    deadline = time.monotonic() + 30  # the cache holds a token for 1 s at most
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = loopback.post(server.url + "/predict", json=record(0), headers=headers).status_code
    assert status == 401
    for _ in range(3):  # and stays refused
        again = loopback.post(server.url + "/predict", json=record(0), headers=headers)
        _refused(again, 401)


def test_outcomes_need_the_role_in_the_project(
    served_home: ServedHome, people: People, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/2"], "--auth", **NO_CACHE)
    url = server.url + "/v2/models/churn/outcomes"
    answer = loopback.post(server.url + "/predict", json=record(0), headers=_bearer(people.app))
    ids = answer.json()["prediction_ids"]
    body = {"prediction_ids": ids, "values": [1]}
    _refused(loopback.post(url, json=body), 401)
    _refused(loopback.post(url, json=body, headers=_bearer(people.app)), 403, "app", "outcomes")
    _refused(loopback.post(url, json=body, headers=_bearer(people.ann)), 403, "viewer")
    accepted = loopback.post(url, json=body, headers=_bearer(people.sam))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"accepted": 1}
    lines = [line for line in _access(server) if line["path"].endswith("/outcomes")]
    assert [(line["status"], line.get("user")) for line in lines] == [
        (401, None),
        (403, "app"),
        (403, "ann"),
        (200, "sam"),
    ]
    rows = read_log(str(served_home.home / "artifacts" / "outcomes")).to_pylist()
    assert [r["prediction_id"] for r in rows] == ids  # the refused calls stored nothing


def test_tokens_never_reach_the_logs(
    served_home: ServedHome, people: People, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/2"], "--auth", **NO_CACHE)
    headers = _bearer(people.sam)
    for i in range(5):
        assert loopback.post(server.url + "/predict", json=record(i), headers=headers).is_success
    answer = loopback.post(server.url + "/predict", json=record(9), headers=headers).json()
    body = {"prediction_ids": answer["prediction_ids"], "values": [0]}
    outcome = loopback.post(server.url + "/v2/models/churn/outcomes", json=body, headers=headers)
    assert outcome.status_code == 200
    loopback.post(server.url + "/predict", json=record(0), headers=_bearer(people.sam + "x"))
    _revoke_all(people.store, "sam")
    loopback.post(server.url + "/predict", json=record(0), headers=headers)
    assert server.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal when done
    logs = served_home.home / "artifacts"
    parquet = sorted(logs.rglob("*.parquet"))
    kinds = {p.relative_to(logs).parts[0] for p in parquet}
    assert {"predictions", "requests", "outcomes"} <= kinds, kinds
    requests = read_log(str(logs / "requests")).to_pylist()
    assert {r["status"] for r in requests} >= {200, 401}  # the refusals are in the request log
    secret = people.sam.encode()
    for path in [*parquet, server.log_path]:
        assert secret not in path.read_bytes(), path
        assert secret[len("relay_") :] not in path.read_bytes(), path
    assert "sam" in {line.get("user") for line in _access(server)}


def test_auth_is_refused_where_no_store_can_check_tokens(
    served_home: ServedHome, tmp_path: Path
) -> None:
    empty = {**served_home.env, "RELAY_HOME": str(tmp_path / "empty")}
    no_users = run_relay(["serve", "churn/2", "--auth"], env=empty, cwd=tmp_path)
    assert no_users.returncode == 1
    assert "no users" in no_users.stderr and "RELAY_DATABASE_URL" in no_users.stderr
    remote = {**served_home.env, "RELAY_SERVER_URL": "http://127.0.0.1:9", "RELAY_SERVE_AUTH": "1"}
    over_http = run_relay(["serve", "churn/2"], env=remote, cwd=tmp_path)
    assert over_http.returncode == 1
    assert "RELAY_DATABASE_URL" in over_http.stderr and "Traceback" not in over_http.stderr


def test_a_bundle_checks_tokens_in_the_database_it_is_given(
    served_home: ServedHome, people: People, tmp_path: Path
) -> None:
    from relayml.backend import LocalBackend
    from relayml.config import get_settings
    from relayml.models.bundle import build_bundle

    backend = LocalBackend(get_settings(home=served_home.home))
    folder = build_bundle(backend, "churn", "churn/2", tmp_path / "bundle")
    backend.close()
    command = [sys.executable, "-m", "relayml.serve.bundle", str(folder), "--auth"]
    alone = {k: v for k, v in served_home.env.items() if k != "RELAY_HOME"}
    refused = subprocess.run(command, env=alone, capture_output=True, text=True)
    assert refused.returncode == 1 and "RELAY_DATABASE_URL" in refused.stderr, refused.stderr
    database = {**alone, "RELAY_DATABASE_URL": f"sqlite:///{served_home.home / 'relay.db'}"}
    server = _BundleServer(command, database, tmp_path)
    try:
        url = server.url + "/predict"
        _refused(loopback.post(url, json=record(0)), 401)
        assert loopback.post(url, json=record(0), headers=_bearer(people.app)).status_code == 200
        _revoke_all(people.store, "app")
        deadline = time.monotonic() + 30
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = loopback.post(url, json=record(0), headers=_bearer(people.app)).status_code
        assert status == 401
    finally:
        server.stop()


class _BundleServer(ModelServerProcess):
    """`python -m relayml.serve.bundle` on a free port (the same readiness wait and stop)."""

    def __init__(self, command: list[str], env: dict[str, str], where: Path) -> None:
        from tests.fixtures.net import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = where / f"bundle-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*command, "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready()


def test_a_server_fed_over_http_checks_tokens_in_the_database_it_is_given(
    served_home: ServedHome, people: People, start_server: Any, tmp_path: Path
) -> None:
    import os

    from tests.fixtures.net import free_port, wait_for_port

    port = free_port()
    platform_env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    platform_env |= {"RELAY_HOME": str(served_home.home), "RELAY_USER": "dana"}
    uvicorn = [sys.executable, "-m", "uvicorn", "relayml.api.app:app_from_environment"]
    with open(tmp_path / "platform.log", "wb") as log:
        platform = subprocess.Popen(
            [*uvicorn, "--factory", "--host", "127.0.0.1", "--port", str(port)],
            env=platform_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        server = start_server(
            served_home,
            ["churn/2"],
            "--auth",
            RELAY_SERVER_URL=f"http://127.0.0.1:{port}",
            RELAY_TOKEN=people.ann,  # the platform asks who reads the models: a viewer
            RELAY_HOME=str(tmp_path / "elsewhere"),  # the models come over HTTP only
            RELAY_DATABASE_URL=f"sqlite:///{served_home.home / 'relay.db'}",
            **NO_CACHE,
        )
        url = server.url + "/predict"
        _refused(loopback.post(url, json=record(0)), 401)
        assert loopback.post(url, json=record(0), headers=_bearer(people.app)).status_code == 200
        _revoke_all(people.store, "app")
        _refused(loopback.post(url, json=record(0), headers=_bearer(people.app)), 401, "revoked")
    finally:
        platform.send_signal(signal.SIGTERM)
        platform.wait(timeout=20)
