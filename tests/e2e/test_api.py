"""The HTTP API as any client sees it: OpenAPI contract, health, one error shape."""

from __future__ import annotations

import httpx
import pytest

from relayml.store import HEAD_REVISION
from tests.fixtures.auth import ADMIN_TOKEN


@pytest.fixture
def http(relay_server: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # the server has auth on
    with httpx.Client(base_url=relay_server, timeout=30, headers=headers) as client:
        yield client  # type: ignore[misc]


def test_openapi_documents_every_route(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/projects",
        "/api/v1/projects/{project}/runs",
        "/api/v1/projects/{project}/runs/search",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/metrics",
        "/api/v1/runs/{run_id}/artifacts/{path}",
        "/api/v1/audit",
        "/healthz",
    ):
        assert path in paths, path
    run_schema = spec["components"]["schemas"]["Run"]
    assert {"id", "status", "params", "metrics"} <= set(run_schema["properties"])


def test_healthz_reports_the_schema_revision(http: httpx.Client) -> None:
    body = http.get("/healthz").json()
    assert body["status"] == "ok" and body["schema_revision"] == HEAD_REVISION


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "words"),
    [
        ("GET", "/api/v1/projects/nope", None, 404, "NOT_FOUND", "project 'nope' does not exist"),
        ("GET", "/api/v1/runs/abc", None, 404, "NOT_FOUND", "run 'abc' does not exist"),
        ("POST", "/api/v1/projects", {"nam": "x"}, 422, "INVALID_INPUT", "name"),
        ("POST", "/api/v1/projects", {"name": "bad name"}, 422, "INVALID_INPUT", "not allowed"),
        ("GET", "/api/v1/nowhere", None, 404, "NOT_FOUND", "Not Found"),
        ("DELETE", "/api/v1/projects", None, 405, "METHOD_NOT_ALLOWED", "Method Not Allowed"),
    ],
)
def test_every_error_has_one_shape(
    http: httpx.Client, method: str, path: str, body: object, status: int, code: str, words: str
) -> None:
    response = http.request(method, path, json=body)
    assert response.status_code == status
    assert response.json() == {
        "error": {"code": code, "message": response.json()["error"]["message"]}
    }
    assert words in response.json()["error"]["message"]


def test_a_non_json_body_is_a_clear_422(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/projects", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_INPUT"


def test_non_finite_metrics_travel_as_strings(http: httpx.Client) -> None:
    http.post("/api/v1/projects", json={"name": "nanproj"})
    run = http.post("/api/v1/projects/nanproj/runs", json={"experiment": "e"}).json()
    sent = http.post(
        f"/api/v1/runs/{run['id']}/metrics",
        json={"points": [["loss", "NaN", 0, 1], ["g", "Infinity", 0, 1], ["ok", 0.5, 0, 1]]},
    )
    assert sent.status_code == 204
    metrics = http.get(f"/api/v1/runs/{run['id']}").json()["metrics"]
    assert metrics == {"loss": "NaN", "g": "Infinity", "ok": 0.5}
