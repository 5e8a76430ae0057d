"""`relay models build`: a bundle that installs in a fresh venv and serves like the registry."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import sklearn
import typer
from sklearn.ensemble import GradientBoostingClassifier
from typer.testing import CliRunner

import relayml as relay
from relayml.backend import LocalBackend
from relayml.cli._common import RelayGroup
from relayml.cli.bundle import register
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.errors import CorruptArtifact, InvalidInput
from relayml.models import publish
from relayml.models.bundle import MANIFEST, build_bundle
from relayml.models.predictor import Predictor
from relayml.predictions import read_log
from tests.fixtures.net import free_port, loopback, wait_for_port
from tests.fixtures.serving import ModelServerProcess, ServedHome

PROJECT = "bundles"
FEATURES = ["tenure", "charges", "calls"]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
WHEEL = f"relayml-{metadata.version('relayml')}-py3-none-any.whl"


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Synthetic churn data: two int columns and a float column, and the label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "charges": rng.normal(60, 15, rows),
            "calls": rng.poisson(1.5, rows),
        }
    )
    logit = -1 - 0.04 * frame.tenure + 0.02 * (frame.charges - 60) + 0.5 * frame.calls
    frame["churned"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture
def run_id(tmp_path: Path) -> Iterator[str]:
    """A project with churn/1 (a gradient-boosted classifier) logged from a run; the run id."""
    relay.init(project=PROJECT, home=tmp_path / "home")
    try:
        frame = customers(400, 1)
        model = GradientBoostingClassifier(n_estimators=30, random_state=0)
        model.fit(frame[FEATURES], frame.churned)
        with relay.start_run(experiment="bundles") as run:
            run.log_model(model, "churn", frame[FEATURES].head(5))
        yield run.id
    finally:
        relay.init(project="teardown", home=tmp_path / "teardown")


def build(out: Path, *, force: bool = False) -> Path:
    return build_bundle(relay.get_backend(), PROJECT, "churn/1", out, force=force)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Hidden build folders (.NAME.xxxx.part / .old) that a build left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def records(rows: int, seed: int) -> list[dict[str, Any]]:
    """Rows as a JSON client sends them (plain ints and floats)."""
    frame = customers(rows, seed)[FEATURES]
    return [
        {"tenure": int(r.tenure), "charges": float(r.charges), "calls": int(r.calls)}
        for r in frame.itertuples()
    ]


def test_a_bundle_holds_the_files_manifest_requirements_and_dockerfile(
    run_id: str, tmp_path: Path
) -> None:
    out = build(tmp_path / "bundle")
    assert out == tmp_path / "bundle"
    assert files_under(out) == {
        "Dockerfile",
        "README.md",
        MANIFEST,
        "requirements.txt",
        "model/model.joblib",
        f"wheels/{WHEEL}",
    }
    assert leftovers(tmp_path) == []

    version = relay.get_backend().get_model_version(PROJECT, "churn/1")
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["project"] == PROJECT
    assert (manifest["model"], manifest["version"], manifest["flavor"]) == ("churn", 1, "sklearn")
    assert manifest["run_id"] == run_id == version.run_id
    assert manifest["details"] == version.details
    assert manifest["signature"] == version.signature.model_dump(mode="json")
    assert [c["name"] for c in manifest["signature"]["inputs"]] == FEATURES
    assert manifest["relayml_version"] == metadata.version("relayml")
    assert datetime.fromisoformat(manifest["built_at"]).tzinfo is not None
    assert manifest["notes"] == []
    [entry] = manifest["files"]
    blob = (out / "model/model.joblib").read_bytes()
    assert entry == {
        "path": "model/model.joblib",
        "sha256": version.files[0].sha256,
        "size": len(blob),
    }
    assert hashlib.sha256(blob).hexdigest() == entry["sha256"]
    [wheel] = manifest["wheels"]
    assert wheel["path"] == f"wheels/{WHEEL}"
    assert hashlib.sha256((out / wheel["path"]).read_bytes()).hexdigest() == wheel["sha256"]
    with zipfile.ZipFile(out / wheel["path"]) as archive:
        names = set(archive.namelist())
    assert {"relayml/serve/bundle.py", "relayml/store/migrations/env.py"} <= names

    lines = (out / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert pins == manifest["requirements"]
    assert f"relayml=={metadata.version('relayml')}" in pins
    assert f"scikit-learn=={sklearn.__version__}" in pins
    assert set(version.requirements) <= set(pins)

    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.startswith(f"FROM python:{PYTHON}-slim\n")
    assert "COPY wheels/ ./wheels/\n" in dockerfile
    assert "RUN pip install --no-cache-dir --find-links wheels -r requirements.txt\n" in dockerfile
    assert "COPY . /bundle\n" in dockerfile
    assert "EXPOSE 8000\n" in dockerfile
    [healthcheck] = [line for line in dockerfile.splitlines() if "/v2/health/ready" in line]
    assert "http://127.0.0.1:8000/v2/health/ready" in healthcheck
    assert "HEALTHCHECK " in dockerfile
    assert dockerfile.endswith(
        'ENTRYPOINT ["python", "-m", "relayml.serve.bundle", "/bundle", '
        '"--host", "0.0.0.0", "--port", "8000"]\n'
    )

    readme = (out / "README.md").read_text()
    assert "pip install --find-links wheels -r requirements.txt" in readme
    assert "python -m relayml.serve.bundle ." in readme
    assert "docker build -t churn-1 ." in readme
    example = json.dumps({"instances": [{"tenure": 0, "charges": 0.0, "calls": 0}]})
    assert f"-d '{example}'" in readme
    assert "/v2/models/churn/infer" in readme
    assert '{"name": "charges", "shape": [1], "datatype": "FP64", "data": [0.0]}' in readme
    assert "--log-dir /logs" in readme


def test_a_bundle_builds_from_every_backend(backend: Backend, project: str, tmp_path: Path) -> None:
    """SQLite, PostgreSQL and a remote `relay server` (blobs over HTTP) give the same bundle."""
    frame = customers(200, 3)
    model = GradientBoostingClassifier(n_estimators=10, random_state=0)
    model.fit(frame[FEATURES], frame.churned)
    version = publish.log_model(backend, project, model, "churn", frame[FEATURES].head(5))
    out = build_bundle(backend, project, "churn", tmp_path / "bundle")
    manifest = json.loads((out / MANIFEST).read_text())
    assert (manifest["project"], manifest["ref"]) == (project, "churn/1")
    assert [f["sha256"] for f in manifest["files"]] == [f.sha256 for f in version.files]
    blob = (out / "model" / "model.joblib").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == version.files[0].sha256


def test_out_must_be_new_or_empty_and_force_only_replaces_a_bundle(
    run_id: str, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput) as err:
        build(taken)
    assert err.value.message == (
        f"{taken} is not empty; choose a new or empty directory, "
        "or pass --force to replace the bundle in it."
    )
    with pytest.raises(InvalidInput, match="not a relay bundle") as err:
        build(taken, force=True)
    assert "--force only replaces an earlier bundle" in err.value.message
    assert files_under(taken) == {"notes.txt"}
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(InvalidInput, match="is a file"):
        build(file)

    empty = tmp_path / "empty"
    empty.mkdir()
    assert (build(empty) / MANIFEST).is_file()

    (empty / "model" / "stale.bin").write_bytes(b"from before")
    first = json.loads((empty / MANIFEST).read_text())["built_at"]
    with pytest.raises(InvalidInput, match="--force"):
        build(empty)
    build(empty, force=True)
    assert "model/stale.bin" not in files_under(empty)
    assert json.loads((empty / MANIFEST).read_text())["built_at"] > first
    assert leftovers(tmp_path) == []


def test_a_tampered_blob_fails_the_build_and_leaves_nothing(run_id: str, tmp_path: Path) -> None:
    version = relay.get_backend().get_model_version(PROJECT, "churn/1")
    blobs = relay.get_backend().blobs  # type: ignore[attr-defined]
    path = Path(blobs.path_of(version.files[0].sha256))
    path.write_bytes(path.read_bytes() + b"tampered")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(CorruptArtifact) as err:
        build(tmp_path / "bundle")
    assert version.files[0].sha256 in err.value.message
    assert not (tmp_path / "bundle").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@dataclass
class Served:
    url: str  # the bundle's server
    registry: str  # `relay serve churn/1` on the store the bundle was built from
    local: Predictor
    logs: Path  # the bundle server's --log-dir
    home: Path  # the store the bundle was built from
    server: subprocess.Popen[bytes]
    log: Path


def outside_env() -> dict[str, str]:
    """This environment without RELAY_ settings and PYTHONPATH: a fresh venv's own relayml."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "PYTHONPATH"}


def serve(
    python: str | Path, bundle: Path, port: int, log: Path, *args: str, isolated: bool = False
) -> subprocess.Popen[bytes]:
    """Start the bundle server as its own process (cwd away from the source tree).

    isolated: without PYTHONPATH, so a fresh venv runs the relayml installed in it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    if isolated:
        env = outside_env()
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(python), "-m", "relayml.serve.bundle", str(bundle), "--port", str(port), *args],
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(server: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, as a container runtime stops it; the server shuts down cleanly.

    uvicorn finishes its shutdown and then re-raises the signal, so the exit code is -SIGTERM.
    """
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        code = server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise
    assert code in (0, -signal.SIGTERM), log.read_text()


def wait_ready(url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if loopback.get(f"{url}/v2/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A bundle of churn/1 served by this interpreter (logging to a folder), `relay serve
    churn/1` on the store it was built from, and the registry's own predictor."""
    folder = tmp_path_factory.mktemp("served")
    home = folder / "home"
    backend = LocalBackend(get_settings(home=home, user="alice"))
    try:
        backend.create_project(PROJECT)
        frame = customers(400, 2)
        model = GradientBoostingClassifier(n_estimators=30, random_state=0)
        model.fit(frame[FEATURES], frame.churned)
        publish.log_model(backend, PROJECT, model, "churn", frame[FEATURES].head(5))
        bundle = build_bundle(backend, PROJECT, "churn/1", folder / "bundle")
        local = publish.load_model(backend, PROJECT, "churn/1")
    finally:
        backend.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env |= {"RELAY_HOME": str(home), "RELAY_PROJECT": PROJECT}
    registry = ModelServerProcess(ServedHome(home, env), ["churn/1"], "--no-prediction-log")
    port = free_port()
    log = folder / "server.log"
    logs = folder / "logs"
    server = serve(sys.executable, bundle, port, log, "--log-dir", str(logs))
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, log)
        yield Served(url, registry.url, local, logs, home, server, log)
    finally:
        stop(server, log)
        registry.stop()


def same_but_ids(bundle: dict[str, Any], registry: dict[str, Any]) -> None:
    """The two answers agree but for the prediction ids (and the request id they default)."""
    for answer in (bundle, registry):
        ids = answer.pop("prediction_ids", None) or answer["parameters"].pop("prediction_ids")
        assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids), ids
        assert len(set(ids)) == len(ids)
        if "id" in answer and answer["id"] == ids[0]:
            del answer["id"]
    assert bundle == registry


def test_the_bundle_serves_like_relay_serve_on_the_registry_version(served: Served) -> None:
    bundle = httpx.Client(base_url=served.url, timeout=30)
    registry = httpx.Client(base_url=served.registry, timeout=30)
    assert bundle.get("/v2/health/live").json() == {"live": True}
    assert bundle.get("/v2/health/ready").json() == {"ready": True}
    metadata = bundle.get("/v2/models/churn").json()
    assert metadata == registry.get("/v2/models/churn").json()
    assert (metadata["name"], metadata["versions"], metadata["platform"]) == (
        "churn",
        ["1"],
        "sklearn",
    )
    assert [i["name"] for i in metadata["inputs"]] == FEATURES
    assert bundle.get("/v2/models/churn/versions/1").json() == metadata
    assert bundle.get("/v2").json() == registry.get("/v2").json()
    missing = bundle.get("/v2/models/other")
    assert missing.status_code == 404
    assert missing.json() == registry.get("/v2/models/other").json()
    assert missing.json() == {"error": "model 'other' is not served here (served: churn)."}
    assert bundle.get("/nowhere").json() == {"error": "Not Found"}

    rows = records(20, 7)
    answer = bundle.post("/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == served.local.predict(rows).tolist()
    assert body["probabilities"] == served.local.predict_proba(rows).tolist()
    assert body["versions"] == [1] * 20 and body["model"] == "churn"
    same_but_ids(body, registry.post("/predict", json={"instances": rows}).json())
    one = bundle.post("/predict", json=rows[0]).json()
    assert one["predictions"] == served.local.predict(rows[:1]).tolist()
    assert len(one["prediction_ids"]) == 1

    frame = customers(20, 7)[FEATURES]
    tensors = {
        "inputs": [
            {"name": "tenure", "shape": [20], "datatype": "INT64", "data": frame.tenure.tolist()},
            {"name": "charges", "shape": [20], "datatype": "FP64", "data": frame.charges.tolist()},
            {"name": "calls", "shape": [20], "datatype": "INT64", "data": frame.calls.tolist()},
        ]
    }
    infer = bundle.post("/v2/models/churn/infer", json={**tensors, "id": "r1"})
    assert infer.status_code == 200, infer.text
    out = infer.json()
    assert (out["id"], out["model_name"], out["model_version"]) == ("r1", "churn", "1")
    assert out["outputs"][0]["data"] == served.local.predict(rows).tolist()
    assert len(out["parameters"]["prediction_ids"]) == 20
    same_but_ids(out, registry.post("/v2/models/churn/infer", json={**tensors, "id": "r1"}).json())
    pinned = bundle.post("/v2/models/churn/versions/1/infer", json=tensors).json()
    assert pinned["outputs"] == out["outputs"]
    other = bundle.post("/v2/models/churn/versions/2/infer", json=tensors)
    assert other.status_code == 404
    assert other.json() == {"error": "version 2 of 'churn' is not served here (served: 1)."}

    metrics = bundle.get("/metrics").text
    assert 'relay_predictions_total{mode="live",model="churn",variant="v1"} ' in metrics
    assert "relay_ready 1.0" in metrics
    bundle.close()
    registry.close()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"",
        b'{"instances": []}',
        b'{"instances": 3}',
        b'{"instances": [{"tenure": 1}], "x": 1}',
        b"{}",
        b"[1, 2]",
        b'"text"',
        b'{"instances": [{"tenure": 1, "charges": 1, "calls": 1}, 5]}',
        b'{"tenure": "ten", "charges": 1.5, "calls": 1}',
        b'{"tenure": 1, "charges": true, "calls": 1}',
        b'{"tenure": 1.5, "charges": 1.5, "calls": 1}',
        b'{"tenure": [1], "charges": 1.5, "calls": 1}',
        b'{"tenure": 1, "charges": 1.5}',
        b'{"tenure": 1, "charges": 1.5, "calls": 1, "age": 3}',
        b'{"tenure": 1, "charges": null, "calls": 1}',
        b'{"tenure": 1, "charges": NaN, "calls": 1}',
        b'{"tenure": 100000000000000000000000, "charges": 1, "calls": 1}',
    ],
)
def test_bad_input_gets_the_answer_relay_serve_gives(served: Served, body: bytes) -> None:
    """The same checks: a 4xx with the same {"error": ...} as `relay serve`, never a 5xx."""
    answers = [
        loopback.post(
            f"{url}/predict", content=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        for url in (served.url, served.registry)
    ]
    assert answers[0].status_code in (400, 422), answers[0].text
    assert list(answers[0].json()) == ["error"]
    assert (answers[0].status_code, answers[0].json()) == (
        answers[1].status_code,
        answers[1].json(),
    )


def test_the_bundle_logs_predictions_and_outcomes_in_its_log_dir(served: Served) -> None:
    """Run after the other tests on `served`: it stops the server to flush its logs."""
    ids = loopback.post(
        f"{served.url}/predict", json={"instances": records(3, 5)}, timeout=30
    ).json()["prediction_ids"]
    accepted = loopback.post(
        f"{served.url}/v2/models/churn/outcomes",
        json={"prediction_ids": ids, "values": [1, 0, 1]},
        timeout=30,
    )
    assert accepted.json() == {"accepted": 3}
    stop(served.server, served.log)  # SIGTERM flushes the logs
    predictions = read_log(str(served.logs / "predictions"))
    assert set(ids) <= set(predictions.column("prediction_id").to_pylist())
    assert set(predictions.column("deployment").to_pylist()) == {"churn-v1"}
    files = list((served.logs / "predictions").rglob("*.parquet"))
    assert files and all(f"project={PROJECT}/deployment=churn-v1/date=" in str(f) for f in files)
    outcomes = read_log(str(served.logs / "outcomes")).to_pylist()
    assert sorted((o["prediction_id"], o["label"]) for o in outcomes) == sorted(
        zip(ids, ["1", "0", "1"], strict=True)
    )
    requests = read_log(str(served.logs / "requests"))
    assert set(requests.column("route").to_pylist()) >= {"/predict"}
    # a --log-dir at the project's artifact store: relay reads the rows as those of churn/1
    backend = LocalBackend(get_settings(home=served.home, artifacts_url=str(served.logs)))
    try:
        record = backend.get_prediction(PROJECT, ids[0])
    finally:
        backend.close()
    assert (record.deployment, record.version, record.variant) == ("churn-v1", 1, "v1")


def test_without_a_log_dir_nothing_is_logged_and_outcomes_are_refused(
    run_id: str, tmp_path: Path
) -> None:
    """Also with --workers 2: each worker loads the model after the fork; one /metrics."""
    bundle = build(tmp_path / "bundle")
    port = free_port()
    log = tmp_path / "server.log"
    server = serve(sys.executable, bundle, port, log, "--no-access-log", "--workers", "2")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, log)
        for row in records(6, 1):
            answer = loopback.post(f"{url}/predict", json=row)
            assert answer.status_code == 200, answer.text
        ids = answer.json()["prediction_ids"]
        refused = loopback.post(
            f"{url}/v2/models/churn/outcomes", json={"prediction_ids": ids, "values": [1]}
        )
        assert refused.status_code == 422
        assert "--log-dir" in refused.json()["error"]
        metrics = loopback.get(f"{url}/metrics").text
        assert 'relay_predictions_total{mode="live",model="churn",variant="v1"} 6.0' in metrics
    finally:
        stop(server, log)
    printed = log.read_text()
    assert f"relay bundle {bundle}: churn/1 (sklearn, project {PROJECT})" in printed
    assert f"Listening on http://127.0.0.1:{port} (2 worker(s), no prediction log)." in printed
    assert '"path": "/predict"' not in printed
    assert "Warning" not in printed, printed  # (the model is used as it was fitted)
    assert not list(tmp_path.rglob("*.parquet"))


def refuses(python: str | Path, bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "relayml.serve.bundle", str(bundle), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=None if str(python) == sys.executable else outside_env(),
    )


def test_the_server_refuses_an_edited_or_missing_bundle(run_id: str, tmp_path: Path) -> None:
    done = refuses(sys.executable, tmp_path / "nothing")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert "is not a relay bundle: it has no relay-bundle.json" in done.stderr

    bundle = build(tmp_path / "bundle")
    model = bundle / "model" / "model.joblib"
    model.write_bytes(model.read_bytes() + b"\0")
    done = refuses(sys.executable, bundle)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: bundle file model/model.joblib has sha256 ")
    assert "it changed after the bundle was built" in done.stderr
    assert "Traceback" not in done.stderr
    model.unlink()
    done = refuses(sys.executable, bundle)
    assert done.returncode == 1
    assert "bundle file model/model.joblib is missing" in done.stderr


def cli() -> typer.Typer:
    """A `relay` with a `models` group holding just the build command."""
    app = typer.Typer(cls=RelayGroup, add_completion=False)
    models = typer.Typer()
    register(models)
    app.add_typer(models, name="models")
    return app


def test_relay_models_build_on_the_command_line(run_id: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"RELAY_HOME": str(tmp_path / "home"), "RELAY_SERVER_URL": None}
    out = tmp_path / "cli-bundle"
    args = ["models", "build", "churn/1", "--out", str(out), "-p", PROJECT]
    result = runner.invoke(cli(), args, env=env)
    assert result.exit_code == 0, result.output
    assert f"Built the bundle of churn/1 (sklearn) in {out}" in result.stdout
    assert f"python -m relayml.serve.bundle {out}" in result.stdout
    assert json.loads((out / MANIFEST).read_text())["run_id"] == run_id

    again = runner.invoke(cli(), args, env=env)
    assert again.exit_code == 1
    assert again.stdout == ""
    assert again.stderr.startswith("Error: ")
    assert "is not empty" in again.stderr and "--force" in again.stderr
    assert runner.invoke(cli(), [*args, "--force"], env=env).exit_code == 0

    unknown = runner.invoke(
        cli(), ["models", "build", "nope/1", "-o", str(tmp_path / "x"), "-p", PROJECT], env=env
    )
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("Error: ")
    assert not (tmp_path / "x").exists()
    assert runner.invoke(cli(), ["models", "build", "churn/1"], env=env).exit_code == 2


@pytest.mark.slow
def test_the_bundle_installs_into_a_fresh_venv_and_serves_the_registry_predictions(
    run_id: str, tmp_path: Path
) -> None:
    bundle = build(tmp_path / "bundle")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The README's `pip install --find-links wheels -r requirements.txt`, by uv (the installer
    # `make` uses; same resolution from the same files, a minute faster than pip on 2 cores).
    uv = Path(sys.executable).parent / "uv"
    install = subprocess.run(
        [
            *(str(uv), "pip", "install", "--quiet", "--python", str(python)),
            *("--find-links", str(bundle / "wheels"), "-r", str(bundle / "requirements.txt")),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=outside_env(),
    )
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run(
        [str(python), "-c", "import relayml; print(relayml.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=outside_env(),
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the wheel, not the source tree

    port = free_port()
    log = tmp_path / "server.log"
    server = serve(python, bundle, port, log, isolated=True)
    try:
        wait_for_port("127.0.0.1", port, timeout=120)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, log)
        assert loopback.get(f"{url}/v2/health/ready").json() == {"ready": True}
        assert loopback.get(f"{url}/v2/models/churn").json()["platform"] == "sklearn"

        rows = records(50, 11)
        local = relay.load_model("churn/1")
        answer = loopback.post(f"{url}/predict", json={"instances": rows}, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["predictions"] == local.predict(rows).tolist()
        assert body["probabilities"] == local.predict_proba(rows).tolist()
        assert len(set(body["prediction_ids"])) == 50
        wrong = loopback.post(f"{url}/predict", json={**rows[0], "calls": "many"}, timeout=30)
        assert wrong.status_code == 422
        assert "'calls'" in wrong.json()["error"], wrong.text
    finally:
        stop(server, log)

    model = bundle / "model" / "model.joblib"
    model.write_bytes(b"not the model")
    done = refuses(python, bundle)
    assert done.returncode != 0
    assert "bundle file model/model.joblib has sha256" in done.stderr
