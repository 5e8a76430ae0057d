"""The prediction routes answered ahead of FastAPI (relayml.serve.fastpath) answer exactly as the
full app does: with CORS origins set the fast path is off, so the same requests sent to both
servers must get the same statuses and bodies (prediction ids aside), and log the same rows.
An all-float model takes the one-matrix path of the codec: its answers, its refusals and its
logged inputs are checked against the model itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

from relayml.backend import LocalBackend, prediction_logs
from relayml.config import Settings
from relayml.serve.runner import ModelServer
from tests.fixtures.serving import ServedHome, build_float_home, record

COLUMNS = ["a", "b", "c"]


def _server(home: Path, project: str, ref: str, cors: bool) -> ModelServer:
    origins = {"serve_cors_origins": "https://app.example"} if cors else {}
    settings = Settings(home=home, user="dana", **origins)  # type: ignore[arg-type]
    server = ModelServer(settings, LocalBackend(settings), project, [ref])
    server.runtime.load()
    return server


@pytest.fixture
def pair(served_home: ServedHome) -> Iterator[tuple[TestClient, TestClient, ModelServer]]:
    """The churn model served twice from one store: fast path on, and off (CORS set)."""
    fast = _server(served_home.home, "churn", "churn/2", cors=False)
    full = _server(served_home.home, "churn", "churn/2", cors=True)
    assert fast.app.fast_path is not None and full.app.fast_path is None  # type: ignore[attr-defined]
    try:
        yield TestClient(fast.app), TestClient(full.app), fast
    finally:
        fast.close()
        full.close()


def _same(fast: Any, full: Any) -> dict[str, Any]:
    assert fast.status_code == full.status_code, (fast.text, full.text)
    assert fast.headers["content-type"] == full.headers["content-type"] == "application/json"
    a, b = fast.json(), full.json()
    for body in (a, b):
        body.pop("prediction_ids", None)
        body.pop("id", None)
        if isinstance(body.get("parameters"), dict):
            body["parameters"].pop("prediction_ids", None)
    assert a == b
    return dict(a)


def test_the_fast_path_answers_every_request_as_the_full_app(
    pair: tuple[TestClient, TestClient, ModelServer],
) -> None:
    fast, full, server = pair
    two = {"instances": [record(1), record(2)]}
    infer = {
        "inputs": [
            {"name": "tenure", "shape": [1], "datatype": "INT64", "data": [3]},
            {"name": "monthly", "shape": [1], "datatype": "FP64", "data": [42.5]},
            {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["pro"]},
        ]
    }
    requests: list[tuple[str, dict[str, Any]]] = [
        ("/predict", {"json": record(0)}),
        ("/predict", {"json": two}),
        ("/predict?model=churn", {"json": record(3)}),
        ("/predict", {"json": two, "headers": {"X-Relay-Key": "user-7"}}),
        ("/predict?model=nope", {"json": record(0)}),
        ("/predict", {"content": b"{oops"}),
        ("/predict", {"content": b""}),
        ("/predict", {"content": b"[" + b"1," * 5_500_000 + b"1]"}),  # over the 10 MB default
        ("/predict", {"json": {"tenure": 3}}),
        ("/predict", {"json": {**record(0), "tenure": "three"}}),
        ("/predict", {"json": {"instances": []}}),
        ("/predict", {"json": 42}),
        ("/v2/models/churn/infer", {"json": infer}),
        ("/v2/models/churn/infer", {"json": {"inputs": "x"}}),
        ("/v2/models/churn/infer", {"json": {"no": "inputs"}}),
        ("/v2/models/nope/infer", {"json": infer}),
    ]
    statuses = []
    for path, kwargs in requests:
        answer = fast.post(path, **kwargs)
        _same(answer, full.post(path, **kwargs))
        statuses.append(answer.status_code)
    assert statuses == [200, 200, 200, 200, 404, 400, 400, 413, 422, 422, 422, 422, 200, 422,
                        422, 404]  # fmt: skip
    # other routes and methods go to FastAPI: the same answers as before
    _same(fast.get("/v2/models/churn"), full.get("/v2/models/churn"))
    assert fast.get("/predict").status_code == full.get("/predict").status_code == 405
    # every prediction request was counted and logged by the fast path too
    metrics = fast.get("/metrics").text
    assert 'relay_http_requests_total{route="/predict",status="413"} 1.0' in metrics
    assert 'relay_http_requests_total{route="/v2/models/{name}/infer",status="200"} 1.0' in metrics
    assert server.predictions is not None
    server.predictions.flush()


@pytest.fixture
def floats(
    tmp_path: Path,
) -> Iterator[tuple[TestClient, ModelServer, LogisticRegression, Settings]]:
    """A scikit-learn model of three float columns, fitted on a frame, served with its log."""
    model = build_float_home(tmp_path / "home")
    settings = Settings(home=tmp_path / "home", user="dana")  # type: ignore[call-arg]
    server = _server(tmp_path / "home", "nums", "nums/1", cors=False)
    try:
        yield TestClient(server.app), server, model, settings
    finally:
        server.close()


def test_an_all_float_model_answers_logs_and_refuses_as_before(
    floats: tuple[TestClient, ModelServer, LogisticRegression, Settings],
) -> None:
    client, server, model, settings = floats
    rows = [{"a": 0.5, "b": -1.25, "c": 3}, {"a": -2, "b": 0.75, "c": 1e-3}]
    answer = client.post("/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    expected = model.predict_proba(pd.DataFrame(rows, columns=COLUMNS))
    assert np.allclose(answer.json()["probabilities"], expected)
    listed = client.post("/predict", json={"instances": [[0.5, -1.25, 3]]})
    assert listed.status_code == 422  # a frame's model takes records, as before
    refused = {
        "true is a boolean": {"a": True, "b": 0.0, "c": 0.0},
        '"1" is a string': {"a": "1", "b": 0.0, "c": 0.0},
        "null, but the model needs a number": {"a": None, "b": 0.0, "c": 0.0},
        "missing c": {"a": 1.0, "b": 0.0},
        "unexpected d": {"a": 1.0, "b": 0.0, "c": 0.0, "d": 1.0},
    }
    for message, row in refused.items():
        bad = client.post("/predict", json={"instances": [rows[0], row]})
        assert bad.status_code == 422 and message in bad.json()["error"], (message, bad.text)
    assert server.predictions is not None
    server.predictions.flush()
    logged = prediction_logs(settings).read("predictions", "nums")
    assert logged.num_rows == 2  # the refused requests logged nothing
    assert logged.column("input.a").to_pylist() == [0.5, -2.0]
    assert logged.column("input.c").to_pylist() == [3.0, 1e-3]
    assert logged.column("prediction_id").to_pylist() == answer.json()["prediction_ids"]


def _spy_finite_check(server: ModelServer, name: str) -> list[bool]:
    """Records, for each call of the served model, whether scikit-learn checks its input for
    NaN and infinity (its assume_finite setting at that moment)."""
    import sklearn

    native = server.runtime.models[name].live[0].predictor.native
    real = native.predict_proba
    seen: list[bool] = []

    def predict_proba(data: Any) -> Any:
        seen.append(not sklearn.get_config()["assume_finite"])
        return real(data)

    native.predict_proba = predict_proba
    return seen


def test_scikit_learn_skips_its_finite_check_only_for_rows_read_as_json_numbers(
    floats: tuple[TestClient, ModelServer, LogisticRegression, Settings],
) -> None:
    import sklearn

    client, server, model, _ = floats
    checked = _spy_finite_check(server, "nums")
    row = {"a": 0.5, "b": -1.25, "c": 3}
    answer = client.post("/predict", json=row)
    assert answer.status_code == 200, answer.text
    expected = model.predict_proba(pd.DataFrame([row], columns=COLUMNS))
    assert np.allclose(answer.json()["probabilities"], expected)
    assert checked == [False]  # JSON numbers in one float matrix: finite by construction
    assert sklearn.get_config()["assume_finite"] is False  # the setting did not leak


def test_a_model_of_mixed_columns_keeps_scikit_learns_finite_check(
    pair: tuple[TestClient, TestClient, ModelServer],
) -> None:
    fast, _full, churn = pair
    checked = _spy_finite_check(churn, "churn")
    assert fast.post("/predict", json=record(0)).status_code == 200
    assert checked == [True]
