"""Several replicas on one PostgreSQL database and one S3 bucket, as docs/operations.md describes:
two `relay server` processes and two `relay serve` processes on loopback (the real PostgreSQL
the suite starts, moto's real S3 API), written to and read from at the same time through both of
each. Nothing is lost or duplicated: runs and their metric points, the audit chain, the
predictions each model server logged to the bucket, and the outcomes sent to either server.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import relayml as relay
from relayml.predictions.reader import read_log
from relayml.store import Store
from tests.fixtures.auth import ADMIN_TOKEN
from tests.fixtures.net import free_port, loopback, stop_process, wait_for_port
from tests.fixtures.s3 import S3Bucket
from tests.fixtures.warm_cli import spawn_relay

pytestmark = pytest.mark.timeout(600)

PROJECT = "replicas"
WRITERS, RUNS_EACH, POINTS = 4, 12, 20
PREDICTORS, REQUESTS_EACH, ROWS = 2, 60, 5
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Fleet:
    """The processes of the test, stopped at the end whatever happens."""

    def __init__(self, root: Path, shared: dict[str, str]) -> None:
        self.root, self.shared = root, shared
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str, **env: str) -> tuple[str, subprocess.Popen[bytes]]:
        home = self.root / name
        home.mkdir()
        port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        proc = spawn_relay(
            [*args, "--port", str(port)],
            env={**clean, **self.shared, "RELAY_HOME": str(home), **env},
            cwd=Path.cwd(), stdout=home / "out.log",
        )  # fmt: skip
        self.processes.append(proc)
        return f"http://127.0.0.1:{port}", proc

    def wait(self, url: str, health: str) -> None:
        wait_for_port("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=90)
        with httpx.Client(timeout=10) as client:
            for _ in range(300):
                if client.get(url + health).status_code == 200:
                    return
                threading.Event().wait(0.2)
        raise AssertionError(f"{url}{health} never answered 200")

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                stop_process(proc)


@pytest.fixture
def fleet(tmp_path: Path, pg_database_url: str, s3_bucket: S3Bucket) -> Iterator[Fleet]:
    Store(pg_database_url, migrate=True).dispose()  # `relay db upgrade`, once per release
    shared = {
        "RELAY_DATABASE_URL": pg_database_url,
        "RELAY_ARTIFACTS_URL": s3_bucket.url,
        "RELAY_ARTIFACTS_OPTIONS": json.dumps({"endpoint_url": s3_bucket.endpoint_url}),
        "RELAY_AUDIT_KEY_FILE": str(tmp_path / "audit-key.pem"),  # one key for every replica
        "RELAY_SESSION_SECRET": "replicas-share-one-session-secret-0123456789",
        "RELAY_SCHEDULE_INTERVAL": "0",
        "RELAY_MONITOR_INTERVAL": "0",
        "RELAY_PREDICTION_FLUSH_INTERVAL": "0.2",
    }
    fleet = Fleet(tmp_path, shared)
    try:
        yield fleet
    finally:
        fleet.stop()


def _model_in_staging(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data scientist logs a model through one server and promotes it to staging."""
    for key in [k for k in os.environ if k.startswith("RELAY_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("RELAY_TOKEN", ADMIN_TOKEN)
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"tenure": rng.integers(1, 72, 200), "charges": rng.uniform(20, 120, 200)})
    y = (X["charges"] / 120 - X["tenure"] / 72 + rng.normal(0, 0.2, 200) > 0).astype(int)
    relay.init(project=PROJECT, server_url=url)
    with relay.start_run(experiment="setup") as run:
        version = run.log_model(LogisticRegression().fit(X, y), "churn", input_example=X[:5])
    relay.promote(version.ref, to="staging", reason="replica test")


def _write_runs(url: str, writer: int) -> list[str]:
    """One writer: runs with params, metric points and an end, through one platform server."""
    made = []
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        for number in range(RUNS_EACH):
            run = client.post(
                f"/api/v1/projects/{PROJECT}/runs",
                json={"experiment": "load", "name": f"w{writer}-{number}"},
            )
            assert run.status_code == 201, run.text
            run_id = run.json()["id"]
            points = [
                ["loss", 1 / (step + 1), step, 1_700_000_000_000 + step] for step in range(POINTS)
            ]
            logged = client.post(f"/api/v1/runs/{run_id}/metrics", json={"points": points})
            assert logged.status_code == 204, logged.text
            params = client.post(
                f"/api/v1/runs/{run_id}/params", json={"values": {"w": str(writer)}}
            )
            assert params.status_code in (200, 204), params.text
            ended = client.post(f"/api/v1/runs/{run_id}/end", json={"status": "FINISHED"})
            assert ended.status_code == 204, ended.text
            made.append(run_id)
    return made


def _read_runs(urls: list[str], stop: threading.Event) -> int:
    """A reader searching the project's runs on both servers while the writers write."""
    reads = 0
    clients = [httpx.Client(base_url=u, headers=AUTH, timeout=60) for u in urls]
    try:
        while not stop.is_set():
            client = clients[reads % len(clients)]
            page = client.post(
                f"/api/v1/projects/{PROJECT}/runs/search",
                json={"filter": "metrics.loss < 0.5", "max_results": 200},
            )
            assert page.status_code == 200, page.text
            ids = [r["id"] for r in page.json()["runs"]]
            assert len(ids) == len(set(ids))
            reads += 1
    finally:
        for client in clients:
            client.close()
    return reads


def _predict(urls: list[str], seed: int) -> list[str]:
    """A caller behind a load balancer: each request to either model server."""
    rng = random.Random(seed)
    ids: list[str] = []
    clients = [httpx.Client(base_url=u, timeout=60) for u in urls]
    try:
        for _ in range(REQUESTS_EACH):
            rows = [
                {"tenure": rng.randint(1, 71), "charges": rng.uniform(20, 120)} for _ in range(ROWS)
            ]
            answer = rng.choice(clients).post("/predict", json={"instances": rows})
            assert answer.status_code == 200, answer.text
            ids += answer.json()["prediction_ids"]
    finally:
        for client in clients:
            client.close()
    return ids


def test_two_of_each_server_on_one_database_and_bucket_lose_and_duplicate_nothing(
    fleet: Fleet, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, _ = fleet.start(
        "server-one", "server", RELAY_BOOTSTRAP_TOKEN=ADMIN_TOKEN, RELAY_USER="alice"
    )
    fleet.wait(one, "/readyz")
    two, _ = fleet.start("server-two", "server")  # finds the administrator the first one made
    _model_in_staging(one, monkeypatch)
    serve_a, proc_a = fleet.start("serve-a", "serve", "churn@staging", "-p", PROJECT)
    serve_b, proc_b = fleet.start("serve-b", "serve", "churn@staging", "-p", PROJECT)
    for url, health in (
        (two, "/readyz"),
        (serve_a, "/v2/health/ready"),
        (serve_b, "/v2/health/ready"),
    ):
        fleet.wait(url, health)

    stop = threading.Event()
    with ThreadPoolExecutor(WRITERS + PREDICTORS + 2) as pool:
        readers = [pool.submit(_read_runs, [one, two], stop) for _ in range(2)]
        try:
            writers = [pool.submit(_write_runs, (one, two)[i % 2], i) for i in range(WRITERS)]
            callers = [pool.submit(_predict, [serve_a, serve_b], i) for i in range(PREDICTORS)]
            written = [run_id for w in writers for run_id in w.result()]
            predicted = [pid for c in callers for pid in c.result()]
        finally:
            stop.set()  # the readers stop whatever happened to the writers
        assert all(r.result() > 0 for r in readers)

    # runs: every one on both servers, once, with all its points
    assert len(written) == len(set(written)) == WRITERS * RUNS_EACH
    for url in (one, two):
        with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
            page = client.post(
                f"/api/v1/projects/{PROJECT}/runs/search",
                json={"experiments": ["load"], "max_results": 1000},
            ).json()
            assert sorted(r["id"] for r in page["runs"]) == sorted(written)
            for run_id in written[:: len(written) // 6]:
                history = client.get(f"/api/v1/runs/{run_id}/metrics/loss").json()
                steps = [point["step"] for point in history]
                assert sorted(steps) == list(range(POINTS))
            chain = client.get("/api/v1/audit/verify").json()
            assert chain["ok"] is True, chain

    # outcomes for every prediction, half through each platform server
    assert len(predicted) == len(set(predicted)) == PREDICTORS * REQUESTS_EACH * ROWS
    half = len(predicted) // 2
    for url, ids in ((one, predicted[:half]), (two, predicted[half:])):
        sent = loopback.post(
            f"{url}/api/v1/projects/{PROJECT}/outcomes",
            json={"prediction_ids": ids, "values": [1] * len(ids), "model": "churn"},
            headers=AUTH, timeout=60,
        )  # fmt: skip
        assert sent.status_code == 200 and sent.json()["accepted"] == len(ids), sent.text

    # the prediction log in the bucket: each model server's files, every answer exactly once
    for proc in (proc_a, proc_b):
        stop_process(proc)  # SIGTERM: the last batch is flushed
    log = read_log(s3_bucket.url + "/predictions", options=s3_bucket.storage_options).to_pandas()
    assert sorted(log["prediction_id"].astype(str)) == sorted(predicted)
    outcomes = read_log(s3_bucket.url + "/outcomes", options=s3_bucket.storage_options)
    assert sorted(outcomes.to_pandas()["prediction_id"].astype(str)) == sorted(predicted)
