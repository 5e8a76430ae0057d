"""The MLflow API's artifact proxy, logged models and registry, on SQLite and on PostgreSQL: what
each route answers and what relayml stored (its blobs, model versions, environments, lineage)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from relayml.backend import LocalBackend
from relayml.models.publish import load_model
from tests.fixtures.mlflow_api import ARTIFACTS, MLMODEL, error, model_bytes, ok, world

__all__ = ["world"]


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
        ("model.pkl", model_bytes()),
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
    created = ok(
        client,
        "POST",
        "/registered-models/create",
        json={"name": "churn", "tags": [{"key": "owner", "value": "risk"}]},
    )["registered_model"]
    got = ok(client, "GET", "/registered-models/get", params={"name": "churn"})
    assert created == got["registered_model"] and created["latest_versions"] == []
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
    for number in ("99", "0", "-1"):  # one version is read, not the list: the same answer
        assert error(
            client, "GET", "/model-versions/get", params={"name": "churn", "version": number}
        )[:3] == (
            404,
            "RESOURCE_DOES_NOT_EXIST",
            f"Model Version (name=churn, version={number}) not found.",
        )
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
    for path, data in (("model/MLmodel", MLMODEL.encode()), ("model/model.pkl", model_bytes())):
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


def test_proxy_uploads_land_once_as_their_hash(world: tuple[TestClient, LocalBackend]) -> None:
    """An upload through the proxy is stored under its sha256 (written once, straight into the
    store), the same bytes twice make one blob, and no temporary file is left behind."""
    client, backend = world
    exp_id = ok(client, "POST", "/experiments/create", json={"name": "up"})["experiment_id"]
    run_id = ok(client, "POST", "/runs/create", json={"experiment_id": exp_id})["run"]["info"][
        "run_id"
    ]
    root = f"{ARTIFACTS}/{exp_id}/{run_id}/artifacts"
    big = os.urandom(3 * 1024 * 1024 + 17)  # more than one chunk
    for path, data in (("a.bin", big), ("copy/a.bin", big), ("empty.txt", b"")):
        assert client.put(f"{root}/{path}", content=data).status_code == 200
        assert client.get(f"{root}/{path}").content == data
    stored = {a.path: a for a in backend.list_artifacts(run_id)}
    assert stored["a.bin"].sha256 == hashlib.sha256(big).hexdigest() == stored["copy/a.bin"].sha256
    assert stored["a.bin"].size == len(big) and stored["empty.txt"].size == 0
    blob = Path(backend.blobs.path_of(stored["a.bin"].sha256))
    assert blob.read_bytes() == big
    assert list(Path(backend.blobs.root, "tmp").iterdir()) == []
    blobs = [p for p in Path(backend.blobs.root, "sha256").rglob("*") if p.is_file()]
    assert sorted(p.name for p in blobs) == sorted(
        {stored["a.bin"].sha256, stored["empty.txt"].sha256}
    )


def test_multipart_uploads_join_their_parts(world: tuple[TestClient, LocalBackend]) -> None:
    """create -> a URL per part -> PUT each -> complete: one artifact, the parts in order;
    abort drops them; what is missing or out of range is refused and nothing is stored."""
    client, backend = world
    exp_id = ok(client, "POST", "/experiments/create", json={"name": "mpu"})["experiment_id"]
    run_id = ok(client, "POST", "/runs/create", json={"experiment_id": exp_id})["run"]["info"][
        "run_id"
    ]
    mpu = "/api/2.0/mlflow-artifacts/mpu"
    folder = f"{exp_id}/{run_id}/artifacts/data"

    def create(parts: int) -> dict[str, Any]:
        body = {"path": "/home/ada/big.bin", "num_parts": parts}
        answer = client.post(f"{mpu}/create/{folder}", json=body)
        assert answer.status_code == 200, answer.text
        created: dict[str, Any] = answer.json()
        return created

    pieces = [os.urandom(1000), os.urandom(2000), b"tail"]
    created = create(3)
    staging = Path(backend.settings.home, "tmp", "mlflow-mpu", created["upload_id"])
    assert [c["part_number"] for c in created["credentials"]] == [1, 2, 3]
    for credential, piece in reversed(list(zip(created["credentials"], pieces, strict=True))):
        put = client.put(credential["url"], content=piece, headers=credential["headers"])
        assert put.status_code == 200 and put.headers["ETag"].strip('"') == (
            hashlib.md5(piece, usedforsecurity=False).hexdigest()
        )
    outside = client.put(f"{mpu}/upload/{created['upload_id']}/4", content=b"x")
    assert (outside.status_code, outside.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    done = {"path": "big.bin", "upload_id": created["upload_id"], "parts": []}
    assert client.post(f"{mpu}/complete/{folder}", json=done).status_code == 200
    stored = backend.list_artifacts(run_id)
    assert [(a.path, a.size) for a in stored] == [("data/big.bin", 3004)]
    root = f"/api/2.0/mlflow-artifacts/artifacts/{folder}"
    assert client.get(f"{root}/big.bin").content == b"".join(pieces)
    assert not staging.exists()
    # a part missing: refused, nothing stored, the parts kept for a retry; abort drops them
    partial = create(2)
    first = partial["credentials"][0]
    assert client.put(first["url"], content=b"only").status_code == 200
    missing = {"path": "big.bin", "upload_id": partial["upload_id"]}
    status, code, message = error(client, "POST", f"{mpu}/complete/{folder}", json=missing)
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE") and "lacks part(s) 2" in message
    assert len(backend.list_artifacts(run_id)) == 1
    assert client.post(f"{mpu}/abort/{folder}", json=missing).status_code == 200
    assert not Path(backend.settings.home, "tmp", "mlflow-mpu", partial["upload_id"]).exists()
    assert error(client, "POST", f"{mpu}/complete/{folder}", json=missing)[:2] == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    for bad in ({"upload_id": "../../etc"}, {"upload_id": None}):
        assert error(client, "POST", f"{mpu}/abort/{folder}", json=bad)[:2] == (
            400,
            "INVALID_PARAMETER_VALUE",
        )
    # an upload left neither completed nor aborted for a week goes when another starts
    left = Path(backend.settings.home, "tmp", "mlflow-mpu", create(1)["upload_id"])
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(left, (week_ago, week_ago))
    fresh = Path(backend.settings.home, "tmp", "mlflow-mpu", create(1)["upload_id"])
    assert fresh.is_dir() and not left.exists()
    too_many = {"path": "x.bin", "num_parts": 10_001}
    assert error(client, "POST", f"{mpu}/create/{folder}", json=too_many)[1] == (
        "INVALID_PARAMETER_VALUE"
    )
