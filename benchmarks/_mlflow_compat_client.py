"""The MLflow client side of benchmarks/mlflow_compat.py: runs inside MLflow's own virtualenv.

    python _mlflow_compat_client.py populate <experiment name> <runs> [<first run>]
    python _mlflow_compat_client.py script <experiment name>

`populate` fills an experiment with runs first..first+runs-1 (2 params, 2 metrics each, then
terminated; not timed): run i gets the same name, params and metrics on every server, so
several populate processes can fill one experiment in slices. `script` is the
timed client script: one run with 10,000 metric points through log_batch, one artifact, one
model logged and registered, then a search over the experiment's runs with a filter and an
order-by (top 100). It prints one JSON object: seconds per phase, seconds of each phase
spent waiting on HTTP (<phase>_http; the rest is the client's own work), and the CPU seconds
the client process used in each phase (<phase>_cpu, every thread: its own work and its side
of each request; unlike wall time, not stretched when other processes hold the CPU).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

POINTS = 10_000
BATCH = 1_000


def experiment(client: MlflowClient, name: str) -> str:
    """The experiment's id, created if missing."""
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def populate(name: str, runs: int, first: int = 0) -> None:
    """Fill an experiment with runs first..first+runs-1."""
    client = MlflowClient()
    exp_id = experiment(client, name)
    for i in range(first, first + runs):
        run = client.create_run(exp_id, run_name=f"r{i}")
        params = [Param("p1", "a" if i % 2 else "b"), Param("p2", str(i % 7))]
        metrics = [Metric("m0", (i * 7919 % 1000) / 1000, 0, 0), Metric("m1", float(i), 0, 0)]
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        client.set_terminated(run.info.run_id)
    print(json.dumps({"runs": runs}))


_WAITED = [0.0]  # seconds spent in HTTP requests (sending, the server's work, the answer)


def _count_waits() -> None:
    """Add each HTTP request's time to _WAITED (two clock reads a request, on both servers)."""
    import requests

    send = requests.Session.request
    server = os.environ["MLFLOW_TRACKING_URI"]

    def timed(self: requests.Session, *args: object, **kwargs: object) -> requests.Response:
        start = time.perf_counter()
        try:
            return send(self, *args, **kwargs)  # type: ignore[arg-type]
        finally:  # the tracking server's requests only (not MLflow's telemetry)
            if str(args[1] if len(args) > 1 else kwargs.get("url", "")).startswith(server):
                _WAITED[0] += time.perf_counter() - start

    requests.Session.request = timed  # type: ignore[method-assign]


def script(name: str) -> None:
    """The timed client script; prints seconds per phase, and per phase the seconds spent
    waiting on HTTP (<phase>_http): the rest is the client's own work, the same on both."""
    import numpy as np  # the script's model only: populate starts without them
    from sklearn.linear_model import LogisticRegression

    _count_waits()

    client = MlflowClient()
    exp_id = experiment(client, name)
    mlflow.set_experiment(experiment_id=exp_id)
    x = np.random.default_rng(1).random((200, 4))
    model = LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))
    times: dict[str, float] = {}
    start, script_waited, script_cpu = time.perf_counter(), _WAITED[0], time.process_time()
    with mlflow.start_run(run_name="bench") as run:
        t, waited, cpu = time.perf_counter(), _WAITED[0], time.process_time()
        for first in range(0, POINTS, BATCH):
            points = [Metric("loss", 1.0 / (s + 1), 0, s) for s in range(first, first + BATCH)]
            client.log_batch(run.info.run_id, metrics=points)
        times["log_batch"] = time.perf_counter() - t
        times["log_batch_http"] = _WAITED[0] - waited
        times["log_batch_cpu"] = time.process_time() - cpu
        t, waited, cpu = time.perf_counter(), _WAITED[0], time.process_time()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.txt"
            path.write_text("x" * 100_000)
            mlflow.log_artifact(str(path))
        times["artifact"] = time.perf_counter() - t
        times["artifact_http"] = _WAITED[0] - waited
        times["artifact_cpu"] = time.process_time() - cpu
        t, waited, cpu = time.perf_counter(), _WAITED[0], time.process_time()
        kwargs = (
            {"name": "model"} if int(mlflow.__version__[0]) >= 3 else {"artifact_path": "model"}
        )
        mlflow.sklearn.log_model(
            model,
            registered_model_name=f"bench-{name}",
            serialization_format="cloudpickle",
            pip_requirements=["scikit-learn"],
            **kwargs,
        )
        times["log_model"] = time.perf_counter() - t
        times["log_model_http"] = _WAITED[0] - waited
        times["log_model_cpu"] = time.process_time() - cpu
    t, waited, cpu = time.perf_counter(), _WAITED[0], time.process_time()
    found = client.search_runs(
        [exp_id],
        "metrics.m0 > 0.5 and params.p1 = 'a'",
        order_by=["metrics.m0 DESC"],
        max_results=100,
    )
    times["search"] = time.perf_counter() - t
    times["search_http"] = _WAITED[0] - waited
    times["search_cpu"] = time.process_time() - cpu
    times["script"] = time.perf_counter() - start
    times["script_http"] = _WAITED[0] - script_waited
    times["script_cpu"] = time.process_time() - script_cpu
    times["found"] = len(found)
    print(json.dumps(times))


if __name__ == "__main__":
    if sys.argv[1] == "populate":
        populate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    else:
        script(sys.argv[2])
