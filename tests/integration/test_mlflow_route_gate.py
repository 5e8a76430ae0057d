"""The gate that tries the MLflow routes first (api/mlflow/__init__.py) changes no answer: the
same requests get the same status and body with the gate as without it (the MLflow routes then
found in their place among the app's routes), for MLflow paths and others alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from relayml.api.app import create_app
from relayml.api.route_gate import RouteGate
from relayml.backend import LocalBackend
from relayml.config import get_settings

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/2.0/mlflow/experiments/get-by-name", {"params": {"experiment_name": "gate"}}),
    ("GET", "/ajax-api/2.0/mlflow/experiments/get-by-name", {"params": {"experiment_name": "x"}}),
    ("POST", "/api/2.0/mlflow/runs/search", {"json": {"experiment_ids": ["0"]}}),
    ("GET", "/api/2.0/mlflow/runs/create", {}),  # POST only: 405
    ("POST", "/api/2.0/mlflow/runs/nothing-here", {"json": {}}),  # 404 in MLflow's shape
    ("POST", "/api/2.0/mlflow/runs/create/", {"json": {}}),  # trailing slash
    ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"params": {"path": ""}}),
    ("GET", "/api/2.0/mlflowish", {}),
    ("GET", "/api/v1/projects", {}),
    ("GET", "/healthz", {}),
    ("GET", "/api/v1/no-such-route", {}),
]


def _app(home: Path, *, gate: bool) -> FastAPI:
    settings = get_settings(home=home, user="ada", monitor_interval=0)
    app = create_app(LocalBackend(settings), auth=False)
    first = app.router.routes[0]
    assert isinstance(first, RouteGate) and first.name == "mlflow"
    if not gate:
        app.router.routes.remove(first)
    return app


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(_app(tmp_path / "a", gate=True), follow_redirects=False) as gated,
        TestClient(_app(tmp_path / "b", gate=False), follow_redirects=False) as plain,
    ):
        for client in (gated, plain):
            made = client.post("/api/2.0/mlflow/experiments/create", json={"name": "gate"})
            assert made.status_code == 200, made.text
        yield gated, plain


@pytest.mark.parametrize(("method", "path", "kwargs"), REQUESTS)
def test_the_gate_answers_as_the_routes_behind_it(
    clients: tuple[TestClient, TestClient], method: str, path: str, kwargs: dict[str, Any]
) -> None:
    gated, plain = clients
    with_gate = gated.request(method, path, **kwargs)
    without = plain.request(method, path, **kwargs)
    assert with_gate.status_code == without.status_code, (with_gate.text, without.text)
    assert with_gate.headers.get("location") == without.headers.get("location")
    if "json" in with_gate.headers.get("content-type", ""):
        assert _scrub(with_gate.json()) == _scrub(without.json())


def _scrub(body: Any) -> Any:
    """The answer without what differs between two stores (times, ids of runs)."""
    if isinstance(body, dict):
        return {
            k: _scrub(v) for k, v in body.items() if not k.endswith(("_time", "_timestamp", "_at"))
        }
    if isinstance(body, list):
        return [_scrub(v) for v in body]
    return body
