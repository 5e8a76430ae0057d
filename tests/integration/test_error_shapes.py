"""The two error shapes, pinned: the platform API's and the model server's (Open Inference V2)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from relayml.api.app import create_app
from relayml.backend import LocalBackend
from relayml.config import Settings
from relayml.errors import BY_CODE, BodyTooLarge, ModelFailed, ModelNotReady, NotJson
from relayml.identity.bootstrap import bootstrap_admin
from relayml.serve.runner import ModelServer


def _backend(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(Settings(home=tmp_path / "home"))
    backend.create_project("churn")
    return backend


def test_the_platform_answers_code_and_message(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    secret = bootstrap_admin(backend.store, "alice")
    client = TestClient(create_app(backend))  # auth on, as `relay server` runs by default
    unsigned = client.get("/api/v1/projects/nope")
    assert unsigned.status_code == 401 and set(unsigned.json()) == {"error"}
    assert unsigned.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "RELAY_TOKEN" in unsigned.json()["error"]["message"]
    answer = client.get("/api/v1/projects/nope", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 404
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "NOT_FOUND"
    assert "nope" in body["error"]["message"]


def test_the_model_server_answers_one_message(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    server = ModelServer(
        backend.settings, backend, "churn", ["churn@production"], prediction_log=False
    )
    try:
        client = TestClient(server.app)  # no lifespan: the models never load
        not_json = client.post("/predict", content=b"{oops")
        assert not_json.status_code == 400
        assert list(not_json.json()) == ["error"]
        assert not_json.json()["error"].startswith("the body is not valid JSON")
        loading = client.get("/v2/models/churn")
        assert loading.status_code == 503
        assert loading.json() == {"error": "the models are not loaded yet; try again shortly."}
    finally:
        server.close()


def test_the_model_servers_errors_are_in_the_one_tree() -> None:
    for cls, status in ((ModelNotReady, 503), (ModelFailed, 500), (BodyTooLarge, 413),
                        (NotJson, 400)):  # fmt: skip
        assert cls.http_status == status
        assert BY_CODE[cls.code] is cls
