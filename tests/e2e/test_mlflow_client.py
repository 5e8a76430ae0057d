"""The unmodified MLflow client (3.x and 2.x, each in its own virtualenv) against `relay server`.

One real server per module (auth on, as `relay server` starts); one client subprocess per MLflow
major version runs tests/e2e/mlflow_scripts/client.py, which exercises experiments, runs,
batches, inputs, artifacts, autolog, log_model with registration, search, metric history, the
registry with aliases and stages and loading ``models:/`` URIs. The 3.x client signs in with
MLFLOW_TRACKING_TOKEN, the 2.x client with basic auth (the token as the password). What they
logged is then read through relayml's own API: runs, metric series, artifacts, lineage, model
versions, the audit log, and a served prediction of the model MLflow logged.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.models.publish import load_model
from tests.fixtures.auth import ADMIN, ADMIN_TOKEN, client_env, server_env, token_for
from tests.fixtures.mlflow_env import mlflow_python
from tests.fixtures.net import free_port, loopback, stop_process, wait_for_port
from tests.fixtures.warm_cli import run_relay, spawn_relay

SCRIPT = Path(__file__).parent / "mlflow_scripts" / "client.py"
PROJECT = "mlflow"  # RELAY_MLFLOW_PROJECT's default


def client_process_env(url: str, **auth: str) -> dict[str, str]:
    """The environment of an MLflow client process: the server, its credentials, no retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RELAY_"))}
    env.pop("PYTHONPATH", None)
    return {
        **env,
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
        **auth,
    }


def run_client(major: str, url: str, prefix: str, cwd: Path, **auth: str) -> dict[str, Any]:
    """Run the client script with MLflow `major`.x and return what it read back."""
    env = client_process_env(url, MLFLOW_TEST_PREFIX=prefix, **auth)
    done = subprocess.run(
        [str(mlflow_python(major)), str(SCRIPT)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class RelayServer:
    """A `relay server` process on loopback with its home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env.update(server_env(home), RELAY_MONITOR_INTERVAL="0")
        self.log = home / "server.log"
        self.process = spawn_relay(
            ["server", "--port", str(port)], env=env, cwd=Path.cwd(), stdout=self.log
        )
        wait_for_port("127.0.0.1", port, timeout=60)

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture(scope="module")
def relay_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayServer]:
    server = RelayServer(tmp_path_factory.mktemp("relay-mlflow"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def results(relay_server: RelayServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What each client read back: 3.x with a bearer token, 2.x with basic auth."""
    cwd = tmp_path_factory.mktemp("clients")
    return {
        "3": run_client("3", relay_server.url, "t3", cwd, MLFLOW_TRACKING_TOKEN=ADMIN_TOKEN),
        "2": run_client(
            "2",
            relay_server.url,
            "t2",
            cwd,
            MLFLOW_TRACKING_USERNAME=ADMIN,
            MLFLOW_TRACKING_PASSWORD=ADMIN_TOKEN,
        ),
    }


@pytest.fixture(scope="module")
def relay(relay_server: RelayServer) -> Iterator[HttpBackend]:
    """relayml's own HTTP client of the server, as its administrator."""
    env = client_env(relay_server.url)
    backend = HttpBackend(get_settings(server_url=env["RELAY_SERVER_URL"], token=ADMIN_TOKEN))
    try:
        yield backend
    finally:
        backend.close()


@pytest.mark.parametrize("major", ["3", "2"])
def test_the_client_reads_back_what_it_logged(results: dict[str, Any], major: str) -> None:
    out = results[major]
    assert out["errors"] == {
        "duplicate_experiment": "RESOURCE_ALREADY_EXISTS",
        "missing_experiment": "None",
        "changed_param": "INVALID_PARAMETER_VALUE",
        "bad_filter": "INVALID_PARAMETER_VALUE",
        "missing_run": "RESOURCE_DOES_NOT_EXIST",
        "duplicate_model": "RESOURCE_ALREADY_EXISTS",
        "missing_alias": "INVALID_PARAMETER_VALUE",
    }
    prefix = f"t{major}"
    assert out["experiment"] == {"name": f"{prefix} churn experiment", "tags": {"team": "risk"}}
    assert out["experiments"] == {
        "searched": [f"{prefix} churn experiment", f"{prefix} scratch renamed"],
        "deleted_stage": "deleted",
        "restored_stage": "active",
        "tags": {"stage": "dev", "team": "risk"},
    }
    assert out["run"] == {
        "name": "first",
        "status": "FINISHED",
        "params": {"alpha": "0.1", "batch_size": "1000", "depth": "3", "kind": "logistic"},
        "metrics": {"auc": 0.91, "batch": 999.0, "f1": 0.8, "loss": 0.2},
        "tags": {"source": "batch", "team": "risk"},
        "inputs": ["customers"],
        "input_tags": ["training"],
    }
    assert out["history"] == [[s, 1.0 / (s + 1)] for s in range(5)]
    assert out["batch_points"] == 1000
    assert out["second_status"] == "FAILED"
    assert out["artifacts"] == [["config", True], ["docs", True], ["notes.txt", False]]
    assert out["artifacts_docs"] == ["docs/notes.txt"]
    assert out["downloaded"] == "hello relay"
    assert out["downloaded_dict"] == {"a": 1}
    assert out["search"] == {
        "loss_desc": ["second", "first", "third"],
        "param": ["first", "second"],
        "status": ["second"],
        "tag": ["first"],
        "name_like": ["third"],
        "and": ["first"],
        "paged": ["third", "first"],
    }
    assert out["autolog"]["params"] == ["C", "max_iter", "penalty"]
    assert "training_accuracy_score" in out["autolog"]["metrics"]
    assert out["version"] == {"version": "1", "status": "READY", "run": True}
    registry = out["registry"]
    assert registry["alias_version"] == "1"
    assert ["champion", "1"] in registry["aliases"]
    assert registry["stage"] == "Staging"
    assert registry["model_tags"] == {"owner": "risk"}
    assert registry["version_tags"] == {"validated": "yes"}
    assert registry["versions"] == registry["latest"] == ["1"]
    assert out["predict"] == {"by_version": True, "by_alias": True, "sklearn": True}
    if major == "3":
        assert out["logged_model"] == {
            "name": "model",
            "status": "READY",
            "tags": {"reviewed": "no"},
            "searched": ["model"],
            "run": True,
        }


@pytest.mark.parametrize("major", ["3", "2"])
def test_what_mlflow_logged_is_relaymls_own(
    results: dict[str, Any], relay: HttpBackend, major: str
) -> None:
    out = results[major]
    first, second = out["ids"]["runs"]
    run = relay.get_run(first)
    assert run.project == PROJECT
    assert run.experiment == f"t{major}-churn-experiment"
    assert run.params["alpha"] == "0.1"
    assert run.tags["team"] == "risk"
    assert [p.value for p in relay.get_metric_history(first, "loss")] == [
        1.0 / (s + 1) for s in range(5)
    ]
    assert len(relay.get_metric_history(first, "batch")) == 1000
    assert relay.get_run(second).status.value == "FAILED"
    assert {a.path for a in relay.list_artifacts(first)} == {
        "notes.txt",
        "docs/notes.txt",
        "config/settings.json",
    }
    page = relay.search_runs(PROJECT, filter="params.alpha = '0.1'", experiments=[run.experiment])
    assert {r.id for r in page.runs} == {first, second}
    graph = relay.lineage("run", first, depth=1)
    assert any(n.kind == "dataset" and n.label == "customers" for n in graph.nodes)
    name = out["ids"]["model"]
    version = relay.get_model_version(PROJECT, f"{name}/1")
    assert version.flavor == "mlflow"
    assert version.run_id == out["ids"]["train_run"]
    assert "MLmodel" in {f.path for f in version.files}
    assert relay.get_model(PROJECT, name).aliases == {"staging": 1}  # Staging moved by promotion
    graph = relay.lineage("model_version", f"{PROJECT}/{name}/1", depth=1)
    assert any(n.kind == "run" and n.key == out["ids"]["train_run"] for n in graph.nodes)
    actions = {e.action for e in relay.list_audit(entity_kind="run", entity_id=first)}
    assert {"run.create", "run.log_params", "run.log_inputs", "run.log_artifact"} <= actions
    # relayml serves the model MLflow logged: the same predictions as MLflow's own loader
    frame = pd.DataFrame({"x1": [0.1, 0.9], "x2": [0.8, 0.05]})
    predictor = load_model(relay, PROJECT, f"{name}@staging")
    assert list(predictor.predict(frame)) == [0, 1]


def test_the_cli_lists_what_mlflow_logged(
    results: dict[str, Any], relay_server: RelayServer
) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}}
    env.update(client_env(relay_server.url))
    done = run_relay(["models", "list", "-p", PROJECT], env=env, cwd=Path.cwd(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "t3-churn" in done.stdout and "t2-churn" in done.stdout


def _post(
    server: RelayServer, path: str, body: dict[str, Any], token: str = ADMIN_TOKEN
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return loopback.post(
        f"{server.url}/api/2.0/mlflow/{path}", json=body, headers=headers, timeout=30
    )


def test_errors_limits_and_permissions_over_rest(
    results: dict[str, Any], relay_server: RelayServer
) -> None:
    first = results["3"]["ids"]["runs"][0]
    # MLflow's batch limits and key length, before anything is stored
    too_many = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(1001)]
    response = _post(relay_server, "runs/log-batch", {"run_id": first, "metrics": too_many})
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "at most 1000 metrics" in response.json()["message"]
    params = [{"key": f"p{i}", "value": "1"} for i in range(101)]
    response = _post(relay_server, "runs/log-batch", {"run_id": first, "params": params})
    assert "at most 100 params" in response.json()["message"]
    response = _post(
        relay_server, "runs/log-parameter", {"run_id": first, "key": "k" * 251, "value": "1"}
    )
    assert response.status_code == 400 and "limit is 250" in response.json()["message"]
    # an endpoint relayml does not implement: 404 ENDPOINT_NOT_FOUND, never 500
    for method, path in (
        ("POST", "/api/2.0/mlflow/traces/start"),
        ("GET", "/api/2.0/mlflow/runs/log-metric"),
        ("GET", "/ajax-api/2.0/mlflow/gateway/secrets/list"),
    ):
        response = loopback.request(
            method, relay_server.url + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code == 404, path
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    # unsupported search syntax is named
    exp = results["3"]["ids"]["experiment"]
    body = {"experiment_ids": [exp], "filter": "datasets.name = 'customers'"}
    response = _post(relay_server, "runs/search", body)
    assert response.status_code == 400 and "datasets" in response.json()["message"]
    # no credentials: 401 in MLflow's shape; a viewer reads but may not write
    response = _post(relay_server, "experiments/search", {}, token="")
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    viewer = token_for(get_settings(home=relay_server.home), "vera")
    relay_admin = HttpBackend(get_settings(server_url=relay_server.url, token=ADMIN_TOKEN))
    try:
        relay_admin.add_member(PROJECT, "vera", "viewer")
    finally:
        relay_admin.close()
    assert _post(relay_server, "runs/search", {"experiment_ids": [exp]}, viewer).status_code == 200
    response = _post(
        relay_server, "runs/log-metric", {"run_id": first, "key": "x", "value": 1}, viewer
    )
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    response = _post(relay_server, "experiments/create", {"name": "viewer's"}, viewer)
    assert response.status_code == 403
    # a multipart upload is a write: a viewer may not start one
    url = f"{relay_server.url}/api/2.0/mlflow-artifacts/mpu/create/{exp}/{first}/artifacts"
    response = loopback.post(
        url, json={"path": "big.bin", "num_parts": 2}, headers={"Authorization": f"Bearer {viewer}"}
    )
    assert (response.status_code, response.json()["error_code"]) == (403, "PERMISSION_DENIED")


MULTIPART_SCRIPT = """
import hashlib, json, os, sys, tempfile
import mlflow
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

created = []
create = HttpArtifactRepository.create_multipart_upload
def counted(self, *args, **kwargs):  # the client's own call, counted on its way
    answer = create(self, *args, **kwargs)
    created.append(len(answer.credentials))
    return answer
HttpArtifactRepository.create_multipart_upload = counted
data = os.urandom(5 * 1024 * 1024 + 123)
mlflow.set_experiment(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
    path = os.path.join(tmp, "weights.bin")
    with open(path, "wb") as fh:
        fh.write(data)
    mlflow.log_artifact(path, artifact_path="big")
    back = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="big/weights.bin", dst_path=tmp + "/back"
    )
    same = open(back, "rb").read() == data
print(json.dumps({"run_id": run.info.run_id, "parts": created, "same": same,
                  "sha256": hashlib.sha256(data).hexdigest()}))
"""


def test_the_client_uploads_a_big_file_in_parts(
    relay_server: RelayServer, relay: HttpBackend, tmp_path: Path
) -> None:
    """With MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD on, the real 3.x client sends a file in parts
    through the proxy (create, one PUT per part, complete); relayml stores it whole."""
    env = client_process_env(
        relay_server.url,
        MLFLOW_TRACKING_TOKEN=ADMIN_TOKEN,
        MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD="true",
        MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=str(1024 * 1024),
        MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=str(2 * 1024 * 1024),
    )
    done = subprocess.run(
        [str(mlflow_python("3")), "-c", MULTIPART_SCRIPT, "multipart"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["parts"] == [3] and result["same"] is True
    stored = relay.list_artifacts(result["run_id"])
    assert [(a.path, a.size, a.sha256) for a in stored] == [
        ("big/weights.bin", 5 * 1024 * 1024 + 123, result["sha256"])
    ]
    assert not any((relay_server.home / "tmp" / "mlflow-mpu").iterdir())


# -- the contract: the same client script against a real `mlflow server` ------------------------

ENVIRONMENT_ALIASES = {"dev", "staging", "production"}


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MLflow's own tracking server (3.x, SQLite, its artifact proxy) on loopback."""
    home = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    mlflow = mlflow_python("3").parent / "mlflow"
    command = [
        str(mlflow),
        "server",
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination",
        str(home / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = client_process_env("")
    with open(home / "server.log", "wb") as sink:
        process = subprocess.Popen(
            command, env=env, cwd=home, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=180)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def _comparable(out: dict[str, Any]) -> dict[str, Any]:
    """What two servers must answer alike: ids and relayml's environments left out."""
    found = {k: v for k, v in out.items() if k != "ids"}
    registry = dict(found["registry"])
    registry["aliases"] = [a for a in registry["aliases"] if a[0] not in ENVIRONMENT_ALIASES]
    found["registry"] = registry
    return found


def test_the_client_reads_the_same_from_relay_as_from_mlflow_server(
    results: dict[str, Any], mlflow_server: str, tmp_path: Path
) -> None:
    theirs = run_client("3", mlflow_server, "t3", tmp_path)
    ours = results["3"]
    assert _comparable(ours) == _comparable(theirs)
