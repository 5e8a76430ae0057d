"""The MLflow API's mapping onto relayml, route by route, on SQLite and on PostgreSQL.

The app with auth off (the caller is the local administrator) over a real store, called with
MLflow's own request bodies; every answer is checked, and so is what relayml stored: its runs,
experiments, lineage, model versions and environments. The real MLflow clients are driven
against a real server in tests/e2e/test_mlflow_client.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

from relayml.api.app import create_app
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.models.publish import load_model

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MLMODEL = """\
flavors:
  python_function: {loader_module: mlflow.sklearn, model_path: model.pkl}
  sklearn: {pickled_model: model.pkl, serialization_format: cloudpickle, sklearn_version: 1.9.1}
signature:
  inputs: '[{"type": "double", "name": "x1"}, {"type": "double", "name": "x2"}]'
  outputs: '[{"type": "long", "required": true}]'
"""


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, LocalBackend]]:
    settings = get_settings(home=tmp_path, database_url=store_url, user="ada", monitor_interval=0)
    backend = LocalBackend(settings)
    backend.create_project("mlflow")
    backend.create_project("churn")
    with TestClient(create_app(backend, auth=False), raise_server_exceptions=False) as client:
        yield client, backend


def ok(client: TestClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = client.request(method, API + path, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error(client: TestClient, method: str, path: str, **kwargs: Any) -> tuple[int, str, str]:
    response = client.request(
        method, path if path.startswith("/") and "2.0" in path else API + path, **kwargs
    )
    body = response.json()
    return response.status_code, body["error_code"], body["message"]


def test_experiments_and_runs(world: tuple[TestClient, LocalBackend]) -> None:
    client, backend = world
    created = ok(
        client,
        "POST",
        "/experiments/create",
        json={"name": "My churn / v1", "tags": [{"key": "team", "value": "risk"}]},
    )
    exp_id = created["experiment_id"]
    other = ok(
        client,
        "POST",
        "/experiments/create",
        json={"name": "in churn", "tags": [{"key": "relay.project", "value": "churn"}]},
    )
    assert backend.list_experiments("churn")[0].name == "in-churn"
    assert error(client, "POST", "/experiments/create", json={"name": "My churn / v1"})[:2] == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    got = ok(
        client, "GET", "/experiments/get-by-name", params={"experiment_name": "My churn / v1"}
    )["experiment"]
    assert got["experiment_id"] == exp_id and {"key": "team", "value": "risk"} in got["tags"]
    assert backend.get_experiment("mlflow", "My-churn-v1").id == int(exp_id)
    ok(
        client,
        "POST",
        "/experiments/set-experiment-tag",
        json={"experiment_id": exp_id, "key": "stage", "value": "dev"},
    )
    ok(
        client,
        "POST",
        "/experiments/delete-experiment-tag",
        json={"experiment_id": exp_id, "key": "team"},
    )
    ok(
        client,
        "POST",
        "/experiments/update",
        json={"experiment_id": other["experiment_id"], "new_name": "renamed"},
    )
    assert backend.list_experiments("churn")[0].name == "renamed"
    found = ok(client, "POST", "/experiments/search", json={"filter": "tags.stage = 'dev'"})[
        "experiments"
    ]
    assert [e["name"] for e in found] == ["My churn / v1"]
    assert (
        error(client, "POST", "/experiments/search", json={"filter": "creation_time > 5"})[1]
        == "INVALID_PARAMETER_VALUE"
    )
    # runs, in the Default experiment ("0") too
    default_run = ok(client, "POST", "/runs/create", json={"experiment_id": "0"})["run"]
    assert default_run["info"]["experiment_id"] == "0"
    assert backend.get_run(default_run["info"]["run_id"]).experiment == "Default"
    runs = []
    for i, name in enumerate(["alpha run", "beta", "gamma"]):
        run = ok(
            client,
            "POST",
            "/runs/create",
            json={"experiment_id": exp_id, "run_name": name, "start_time": 1_700_000_000_000 + i},
        )["run"]
        run_id = run["info"]["run_id"]
        runs.append(run_id)
        batch = {
            "run_id": run_id,
            "metrics": [
                {
                    "key": "loss",
                    "value": 1.0 - i / 10 - s / 100,
                    "timestamp": 1_700_000_000_000 + s,
                    "step": s,
                }
                for s in range(3)
            ],
            "params": [{"key": "lr", "value": str(0.1 * (i + 1))}],
            "tags": [{"key": "team", "value": "risk" if i else "growth"}],
        }
        ok(client, "POST", "/runs/log-batch", json=batch)
    assert backend.get_run(runs[0]).name == "alpha-run"
    ok(client, "POST", "/runs/update", json={"run_id": runs[1], "run_name": "beta two"})
    ok(client, "POST", "/runs/set-tag", json={"run_id": runs[1], "key": "tmp", "value": "x"})
    ok(client, "POST", "/runs/delete-tag", json={"run_id": runs[1], "key": "tmp"})
    assert error(client, "POST", "/runs/delete-tag", json={"run_id": runs[1], "key": "tmp"})[
        :2
    ] == (404, "RESOURCE_DOES_NOT_EXIST")
    dataset = {"name": "customers", "digest": "abc123", "source_type": "local", "source": "{}"}
    ok(
        client,
        "POST",
        "/runs/log-inputs",
        json={
            "run_id": runs[0],
            "datasets": [
                {"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": dataset}
            ],
        },
    )
    finished = ok(
        client,
        "POST",
        "/runs/update",
        json={"run_id": runs[2], "status": "KILLED", "end_time": 1_700_000_100_000},
    )
    assert finished["run_info"]["status"] == "KILLED"
    got = ok(client, "GET", "/runs/get", params={"run_id": runs[0]})["run"]
    assert got["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert got["data"]["metrics"] == [
        {"key": "loss", "value": 0.98, "timestamp": 1_700_000_000_002, "step": 2}
    ]
    assert got["inputs"]["dataset_inputs"][0]["dataset"]["digest"] == "abc123"
    assert any(n.kind == "dataset" for n in backend.lineage("run", runs[0], depth=1).nodes)
    search = {
        "experiment_ids": [exp_id],
        "filter": "attributes.run_name LIKE 'beta%' or tags.team = 'growth'",
        "order_by": ["metrics.loss ASC"],
    }
    assert [
        r["info"]["run_name"] for r in ok(client, "POST", "/runs/search", json=search)["runs"]
    ] == ["beta-two", "alpha-run"]
    page = ok(
        client,
        "POST",
        "/runs/search",
        json={
            "experiment_ids": [exp_id],
            "max_results": 2,
            "order_by": ["attributes.start_time ASC"],
        },
    )
    assert len(page["runs"]) == 2 and page["next_page_token"]
    rest = ok(
        client,
        "POST",
        "/runs/search",
        json={
            "experiment_ids": [exp_id],
            "max_results": 2,
            "order_by": ["attributes.start_time ASC"],
            "page_token": page["next_page_token"],
        },
    )
    assert [r["info"]["run_id"] for r in rest["runs"]] == [runs[2]]
    assert (
        error(
            client,
            "POST",
            "/runs/search",
            json={"experiment_ids": [exp_id, other["experiment_id"]]},
        )[1]
        == "INVALID_PARAMETER_VALUE"
    )
    history = ok(
        client,
        "GET",
        "/metrics/get-history",
        params={"run_id": runs[0], "metric_key": "loss", "max_results": 2},
    )
    assert [m["step"] for m in history["metrics"]] == [0, 1]
    more = ok(
        client,
        "GET",
        "/metrics/get-history",
        params={"run_id": runs[0], "metric_key": "loss", "page_token": history["next_page_token"]},
    )
    assert [m["step"] for m in more["metrics"]] == [2]
    ok(client, "POST", "/runs/delete", json={"run_id": runs[1]})
    deleted = ok(
        client,
        "POST",
        "/runs/search",
        json={"experiment_ids": [exp_id], "run_view_type": "DELETED_ONLY"},
    )["runs"]
    assert [r["info"]["run_id"] for r in deleted] == [runs[1]]
    ok(client, "POST", "/runs/restore", json={"run_id": runs[1]})
    ok(client, "POST", "/experiments/delete", json={"experiment_id": exp_id})
    assert backend.get_experiment("mlflow", "My-churn-v1").deleted_at is not None
    ok(client, "POST", "/experiments/restore", json={"experiment_id": exp_id})
    # bad input says what was wrong, and nothing half-written stays
    too_many = {"run_id": runs[0], "tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}
    assert "at most 100 tags" in error(client, "POST", "/runs/log-batch", json=too_many)[2]
    assert "t0" not in backend.get_run(runs[0]).tags
    assert (
        error(
            client,
            "POST",
            "/runs/log-metric",
            json={"run_id": runs[0], "key": "m", "value": "high"},
        )[1]
        == "INVALID_PARAMETER_VALUE"
    )
    assert error(client, "GET", "/runs/get", params={"run_id": "f" * 32})[:2] == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error(client, "POST", "/runs/create", content=b"{not json")[0] == 400
    assert error(client, "POST", "/api/2.0/mlflow/no/such/route", json={})[:2] == (
        404,
        "ENDPOINT_NOT_FOUND",
    )


def _model_bytes() -> bytes:
    x = pd.DataFrame({"x1": [0.1, 0.2, 0.8, 0.9], "x2": [0.9, 0.7, 0.1, 0.05]})
    return cloudpickle.dumps(LogisticRegression().fit(x, [0, 0, 1, 1]))


def test_artifacts_logged_models_and_the_registry(world: tuple[TestClient, LocalBackend]) -> None:
    client, backend = world
    exp_id = ok(client, "POST", "/experiments/create", json={"name": "reg"})["experiment_id"]
    run_id = ok(client, "POST", "/runs/create", json={"experiment_id": exp_id})["run"]["info"][
        "run_id"
    ]
    root = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts"
    assert client.put(f"{root}/plots/roc.txt", content=b"roc").status_code == 200
    assert client.get(f"{root}/plots/roc.txt").content == b"roc"
    listed = client.get(ARTIFACTS, params={"path": f"{exp_id}/{run_id}/artifacts"}).json()["files"]
    assert listed == [{"path": "plots", "is_dir": True}]
    assert [a.path for a in backend.list_artifacts(run_id)] == ["plots/roc.txt"]
    status, code, _ = error(client, "DELETE", f"{root}/plots/roc.txt")
    assert (status, code) == (400, "INVALID_STATE")
    assert error(client, "GET", f"{root}/nope.txt")[:2] == (404, "RESOURCE_DOES_NOT_EXIST")
    # an MLflow 3 logged model: created pending, files uploaded, finalized, tagged
    model = ok(
        client,
        "POST",
        "/logged-models",
        json={
            "experiment_id": exp_id,
            "name": "model",
            "source_run_id": run_id,
            "params": [{"key": "C", "value": "1.0"}],
        },
    )["model"]
    model_id = model["info"]["model_id"]
    assert model["info"]["status"] == "LOGGED_MODEL_PENDING"
    base = f"{ARTIFACTS}/{exp_id}/models/{model_id}/artifacts"
    for path, data in (
        ("MLmodel", MLMODEL.encode()),
        ("model.pkl", _model_bytes()),
        ("requirements.txt", b"scikit-learn\n"),
        ("junk.txt", b"x"),
    ):
        assert client.put(f"{base}/{path}", content=data).status_code == 200
    assert client.delete(f"{base}/junk.txt").status_code == 200
    finalized = ok(
        client,
        "PATCH",
        f"/logged-models/{model_id}",
        json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
    )
    assert finalized["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    ok(
        client,
        "PATCH",
        f"/logged-models/{model_id}/tags",
        json={"tags": [{"key": "k", "value": "v"}]},
    )
    ok(client, "DELETE", f"/logged-models/{model_id}/tags/k")
    ok(
        client,
        "POST",
        f"/logged-models/{model_id}/params",
        json={"params": [{"key": "max_iter", "value": "100"}]},
    )
    found = ok(
        client,
        "POST",
        "/logged-models/search",
        json={"experiment_ids": [exp_id], "filter": "name = 'model'"},
    )["models"]
    assert [m["info"]["model_id"] for m in found] == [model_id]
    assert found[0]["data"]["params"] == [
        {"key": "C", "value": "1.0"},
        {"key": "max_iter", "value": "100"},
    ]
    files = ok(client, "GET", f"/logged-models/{model_id}/artifacts/directories", params={})[
        "files"
    ]
    assert [f["path"] for f in files] == ["MLmodel", "model.pkl", "requirements.txt"]
    # the registry: a version made from the logged model's files, served by relayml
    ok(
        client,
        "POST",
        "/registered-models/create",
        json={"name": "churn", "tags": [{"key": "owner", "value": "risk"}]},
    )
    assert (
        error(client, "POST", "/registered-models/create", json={"name": "churn"})[1]
        == "RESOURCE_ALREADY_EXISTS"
    )
    version = ok(
        client,
        "POST",
        "/model-versions/create",
        json={
            "name": "churn",
            "source": f"models:/{model_id}",
            "run_id": run_id,
            "model_id": model_id,
        },
    )["model_version"]
    assert (
        version["version"] == "1"
        and version["status"] == "READY"
        and version["model_id"] == model_id
    )
    stored = backend.get_model_version("mlflow", "churn/1")
    assert (
        stored.flavor == "mlflow"
        and stored.run_id == run_id
        and stored.requirements == ["scikit-learn"]
    )
    assert [c.name for c in stored.signature.inputs] == ["x1", "x2"]
    predictor = load_model(backend, "mlflow", "churn/1")
    assert list(predictor.predict([{"x1": 0.1, "x2": 0.9}, {"x1": 0.9, "x2": 0.05}])) == [0, 1]
    uri = ok(
        client, "GET", "/model-versions/get-download-uri", params={"name": "churn", "version": "1"}
    )
    assert uri["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/models/{model_id}/artifacts"
    ok(
        client,
        "POST",
        "/registered-models/alias",
        json={"name": "churn", "alias": "champion", "version": "1"},
    )
    assert (
        ok(
            client, "GET", "/registered-models/alias", params={"name": "churn", "alias": "champion"}
        )["model_version"]["version"]
        == "1"
    )
    ok(
        client,
        "POST",
        "/model-versions/transition-stage",
        json={"name": "churn", "version": "1", "stage": "Production"},
    )
    assert backend.get_model("mlflow", "churn").aliases == {"production": 1}
    assert (
        ok(
            client,
            "GET",
            "/registered-models/alias",
            params={"name": "churn", "alias": "production"},
        )["model_version"]["current_stage"]
        == "Production"
    )
    ok(
        client,
        "POST",
        "/model-versions/set-tag",
        json={"name": "churn", "version": "1", "key": "ok", "value": "yes"},
    )
    ok(
        client,
        "PATCH",
        "/model-versions/update",
        json={"name": "churn", "version": "1", "description": "first"},
    )
    got = ok(client, "GET", "/model-versions/get", params={"name": "churn", "version": "1"})[
        "model_version"
    ]
    assert got["tags"] == [{"key": "ok", "value": "yes"}] and got["description"] == "first"
    assert sorted(got["aliases"]) == ["champion", "production"]
    registered = ok(client, "GET", "/registered-models/get", params={"name": "churn"})[
        "registered_model"
    ]
    assert {"alias": "champion", "version": "1"} in registered["aliases"]
    assert [
        v["version"]
        for v in ok(
            client, "GET", "/model-versions/search", params={"filter": f"run_id = '{run_id}'"}
        )["model_versions"]
    ] == ["1"]
    ok(client, "DELETE", "/registered-models/alias", json={"name": "churn", "alias": "champion"})
    assert (
        error(
            client, "GET", "/registered-models/alias", params={"name": "churn", "alias": "champion"}
        )[1]
        == "INVALID_PARAMETER_VALUE"
    )
    assert (
        error(
            client,
            "DELETE",
            "/registered-models/alias",
            json={"name": "churn", "alias": "production"},
        )[1]
        == "INVALID_STATE"
    )
    ok(client, "POST", "/registered-models/rename", json={"name": "churn", "new_name": "churn2"})
    assert [m.name for m in backend.list_models("mlflow")] == ["churn2"]
    assert (
        error(client, "DELETE", "/model-versions/delete", json={"name": "churn2", "version": "1"})[
            1
        ]
        == "INVALID_STATE"
    )
    assert backend.list_model_versions("mlflow", "churn2")[0].version == 1
    # a version from run artifacts (how MLflow 2 logs), and a source relayml cannot read
    for path, data in (("model/MLmodel", MLMODEL.encode()), ("model/model.pkl", _model_bytes())):
        assert client.put(f"{root}/{path}", content=data).status_code == 200
    v2 = ok(
        client,
        "POST",
        "/model-versions/create",
        json={
            "name": "churn2",
            "source": f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts/model",
            "run_id": run_id,
        },
    )["model_version"]
    assert v2["version"] == "2"
    assert {f.path for f in backend.get_model_version("mlflow", "churn2/2").files} == {
        "MLmodel",
        "model.pkl",
    }
    status, code, message = error(
        client,
        "POST",
        "/model-versions/create",
        json={"name": "churn2", "source": "s3://bucket/model"},
    )
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "artifact proxy" in message
    assert len(backend.list_model_versions("mlflow", "churn2")) == 2
    ok(client, "DELETE", f"/logged-models/{model_id}")
    assert error(client, "GET", f"/logged-models/{model_id}")[1] == "RESOURCE_DOES_NOT_EXIST"
    multipart = client.post(
        f"/api/2.0/mlflow-artifacts/mpu/create/{exp_id}/{run_id}/artifacts/big",
        json={"num_parts": 2},
    )
    assert multipart.status_code == 501
