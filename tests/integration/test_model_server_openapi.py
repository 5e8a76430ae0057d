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
