"""The model server's OpenAPI contract documents the answers, not only the requests."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from relayml.backend import LocalBackend
from relayml.config import Settings
from relayml.serve.runner import ModelServer


def test_the_answers_of_predict_and_model_metadata_are_in_the_schema(tmp_path: Path) -> None:
    backend = LocalBackend(Settings(home=tmp_path / "home"))
    backend.create_project("churn")
    server = ModelServer(
        backend.settings, backend, "churn", ["churn@production"], prediction_log=False
    )
    try:
        spec = TestClient(server.app).get("/openapi.json").json()
    finally:
        server.close()
    paths = spec["paths"]
    predicted = paths["/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    fields = predicted["schema"]["properties"]
    assert {"predictions", "prediction_ids", "model", "versions", "probabilities"} <= set(fields)
    assert "each row" in fields["versions"]["description"]
    meta = paths["/v2/models/{name}"]["get"]["responses"]["200"]["content"]["application/json"]
    variants = meta["schema"]["properties"]["parameters"]["properties"]["variants"]["items"]
    assert set(variants["required"]) == {"version", "name", "weight", "mode"}


def _client(tmp_path: Path, **settings: str) -> tuple[ModelServer, TestClient]:
    backend = LocalBackend(Settings(home=tmp_path / "home", **settings))  # type: ignore[arg-type]
    backend.create_project("churn")
    server = ModelServer(
        backend.settings, backend, "churn", ["churn@production"], prediction_log=False
    )
    return server, TestClient(server.app)


def test_cors_is_off_by_default_and_a_setting_lets_a_web_page_call_the_model(
    tmp_path: Path,
) -> None:
    page = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    server, client = _client(tmp_path / "off")
    try:
        assert (
            "access-control-allow-origin" not in client.get("/v2/health/live", headers=page).headers
        )
        assert client.options("/predict", headers=page).status_code != 200
    finally:
        server.close()
    server, client = _client(tmp_path / "on", serve_cors_origins="https://app.example")
    try:
        preflight = client.options(
            "/predict", headers={**page, "Access-Control-Request-Headers": "content-type"}
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        live = client.get("/v2/health/live", headers=page)
        assert live.headers["access-control-allow-origin"] == "https://app.example"
        other = client.get("/v2/health/live", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    finally:
        server.close()


def test_with_auth_the_schema_declares_the_bearer_token_where_it_is_needed(
    tmp_path: Path,
) -> None:
    from relayml.identity.users import add_user

    backend = LocalBackend(Settings(home=tmp_path / "home"))
    backend.create_project("churn")
    add_user(backend.store, "dana", "ann")
    server = ModelServer(
        backend.settings, backend, "churn", ["churn@production"], prediction_log=False, auth=True
    )
    try:
        spec = TestClient(server.app).get("/openapi.json").json()
    finally:
        server.close()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    for path, method in (
        ("/predict", "post"),
        ("/v2/models/{name}/infer", "post"),
        ("/v2/models/{name}/outcomes", "post"),
        ("/v2/models/{name}", "get"),
    ):
        operation = paths[path][method]
        assert operation["security"] == [{"bearer": []}], path
        assert {"401", "403"} <= set(operation["responses"]), path
    for path in ("/v2/health/ready", "/v2/health/live", "/metrics", "/v2"):
        assert "security" not in paths[path]["get"], path
