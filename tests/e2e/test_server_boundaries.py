"""What a browser page and an oversized body get from both servers, as real processes.

CORS: neither server answers a web page of another origin unless told to (the model server by
RELAY_SERVE_CORS_ORIGINS; the platform has no such setting). Body limits of the model server
with auth on: a caller without a token is refused before its body is read; one with a token gets
413 over the limit, announced or not (the platform's 413s: tests/e2e/test_api_hardening.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from relayml.identity.tokens import create_token
from relayml.identity.users import add_user
from relayml.projects.members import add_member
from relayml.store import Store
from tests.fixtures.net import loopback
from tests.fixtures.serving import ServedHome, record

PAGE = "https://app.example.com"
OTHER = "https://evil.example.net"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def _no_cors(response: httpx.Response) -> None:
    assert "access-control-allow-origin" not in response.headers, dict(response.headers)
    assert "access-control-allow-credentials" not in response.headers


def test_the_platform_sends_no_cors_headers(relay_server: Any) -> None:
    url = str(getattr(relay_server, "url", relay_server)).rstrip("/")
    token = getattr(relay_server, "token", None)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    for origin in (PAGE, OTHER, "null"):
        page = {"Origin": origin, **auth}
        _no_cors(loopback.get(url + "/healthz", headers=page))
        _no_cors(loopback.get(url + "/api/v1/projects", headers=page))
        preflight = httpx.options(url + "/api/v1/projects", headers={**page, **PREFLIGHT})
        _no_cors(preflight)
        assert preflight.status_code >= 400  # no preflight is approved


def test_the_model_server_sends_no_cors_headers_by_default(
    served_home: ServedHome, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/2"])
    answer = loopback.post(server.url + "/predict", json=record(0), headers={"Origin": PAGE})
    assert answer.status_code == 200
    _no_cors(answer)
    preflight = httpx.options(server.url + "/predict", headers={"Origin": PAGE, **PREFLIGHT})
    _no_cors(preflight)
    assert preflight.status_code >= 400


def _tokens(home: ServedHome) -> dict[str, str]:
    store = Store(f"sqlite:///{home.home / 'relay.db'}")
    try:
        add_user(store, "dana", "sam")
        add_member(store, "dana", "churn", "sam", "software_engineer")
        _, secret = create_token(store, "dana", "sam", "web", scopes=["predict"])
    finally:
        store.dispose()
    return {"Authorization": f"Bearer {secret}"}


def test_the_named_origin_may_call_the_model_server_with_a_token(
    served_home: ServedHome, start_server: Any
) -> None:
    bearer = _tokens(served_home)
    server = start_server(
        served_home, ["churn/2"], "--auth", RELAY_SERVE_CORS_ORIGINS=f"{PAGE},https://b.example"
    )
    url = server.url + "/predict"
    # the preflight carries no token (browsers never send one there): it is answered first
    preflight = httpx.options(url, headers={"Origin": PAGE, **PREFLIGHT})
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == PAGE
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = loopback.post(url, json=record(0), headers={"Origin": PAGE})
    assert refused.status_code == 401  # and the page may read why
    assert refused.headers["access-control-allow-origin"] == PAGE
    answered = loopback.post(url, json=record(0), headers={"Origin": PAGE, **bearer})
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == PAGE
    other = httpx.options(url, headers={"Origin": OTHER, **PREFLIGHT})
    assert other.status_code >= 400
    _no_cors(other)
    _no_cors(loopback.post(url, json=record(0), headers={"Origin": OTHER, **bearer}))


def test_bodies_over_the_model_servers_limit_get_413_once_the_caller_is_known(
    served_home: ServedHome, start_server: Any
) -> None:
    bearer = _tokens(served_home)
    server = start_server(served_home, ["churn/2"], "--auth", RELAY_SERVE_MAX_BODY_BYTES="2048")
    big = {"instances": [record(i) for i in range(200)]}  # about 10 KB

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"instances": ['
        for i in range(200):
            yield b'{"tenure": %d, "monthly": 42.5, "plan": "basic"},' % i
        yield b'{"tenure": 1, "monthly": 1.0, "plan": "basic"}]}'

    for path in ("/predict", "/v2/models/churn/infer", "/v2/models/churn/outcomes"):
        url = server.url + path
        assert loopback.post(url, json=big).status_code == 401  # unread: no token
        announced = loopback.post(url, json=big, headers=bearer)
        assert announced.status_code == 413, (path, announced.text)
        assert "2048" in announced.json()["error"]
        streamed = loopback.post(
            url, content=chunks(), headers={**bearer, "content-type": "application/json"}
        )
        assert streamed.status_code == 413, (path, streamed.text)
    small = loopback.post(server.url + "/predict", json=record(0), headers=bearer)
    assert small.status_code == 200  # still serving
