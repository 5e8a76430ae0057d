"""Pipelines on a real Dask cluster (LocalCluster, 2 worker processes): the same outputs and
DAG as the local executor, retries and failures, and workers killed in the middle of a step."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.errors import InvalidInput
from relayml.pipelines import PipelineFailed, load_outputs, pipeline, step
from relayml.pipelines.executors import DaskExecutor
from tests.fixtures.net import free_port

pytestmark = pytest.mark.timeout(120)  # a hang fails the test instead of blocking the suite


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A LocalCluster with 2 single-threaded worker processes; its address as dask://host:port.

    Dask gives a task one more worker after a worker dies under it (allowed-failures=1), so
    the test of a step that always kills its worker ends quickly.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # random ports: 8787 may be taken
            silence_logs=40,  # logging.ERROR: killed workers are expected here
        )
    try:
        yield local.scheduler_address.replace("tcp://", "dask://")
    finally:
        local.close(timeout=20)


def open_backend(home: Path) -> LocalBackend:
    found = LocalBackend(get_settings(home=home, user="erin"))
    found.create_project("churn")
    return found


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    found = open_backend(tmp_path / "home")
    try:
        yield found
    finally:
        found.close()


@step
def load(rows: int) -> pd.DataFrame:
    print(f"loading {rows} rows on pid {os.getpid()}")
    return pd.DataFrame({"age": np.arange(rows) % 90, "spend": np.linspace(0, 1, rows)})


@step
def clean(raw: pd.DataFrame, min_age: int = 18) -> pd.DataFrame:
    return raw[raw.age >= min_age].reset_index(drop=True)


@step
def histogram(table: pd.DataFrame) -> np.ndarray:
    return np.histogram(table.spend.to_numpy(), bins=5)[0]


@step
def summarise(table: pd.DataFrame, counts: np.ndarray) -> dict[str, Any]:
    return {"rows": len(table), "bins": counts.tolist()}


@pipeline(name="tests:diamond")
def diamond(rows: int = 500, min_age: int = 21) -> Any:
    table = clean(load(rows), min_age=min_age)
    return {"table": table, "summary": summarise(table, histogram(table))}


def outputs_of(run: Any) -> dict[str, dict[str, str]]:
    return {s.step: {k: v["sha256"] for k, v in s.outputs.items()} for s in run.steps}


def test_local_and_dask_give_the_same_outputs_and_dag(cluster: str, tmp_path: Path) -> None:
    local_backend = open_backend(tmp_path / "local")
    dask_backend = open_backend(tmp_path / "dask")
    try:
        local = diamond.execute({"rows": 300}, backend=local_backend, project="churn")
        remote = diamond.execute(
            {"rows": 300}, backend=dask_backend, project="churn", executor=cluster
        )
        assert local.run.status == remote.run.status == "FINISHED"
        assert remote.run.executor == cluster and local.run.executor == "local"
        assert outputs_of(local.run) == outputs_of(remote.run)
        assert local.dag.edges() == remote.dag.edges()
        assert {s.step: s.cache_key for s in local.run.steps} == {
            s.step: s.cache_key for s in remote.run.steps
        }
        worker_pids = {s.logs.split("pid ")[1].strip() for s in remote.run.steps if "pid" in s.logs}
        assert worker_pids and str(os.getpid()) not in worker_pids  # it ran on a worker
        step_run = next(s for s in remote.run.steps if s.step == "load")
        assert step_run.peak_memory_mb and step_run.cpu_time is not None and step_run.duration
        values = load_outputs(remote.run, dask_backend)
        assert values["summary"]["rows"] == len(values["table"]) and sum(
            values["summary"]["bins"]
        ) == len(values["table"])

        again = diamond.run({"rows": 300}, backend=dask_backend, project="churn", executor=cluster)
        assert {s.status for s in again.steps} == {"CACHED"}
        changed = diamond.run(
            {"rows": 300, "min_age": 40}, backend=dask_backend, project="churn", executor=cluster
        )
        assert {s.step: s.status for s in changed.steps} == {
            "load": "CACHED",
            "clean": "FINISHED",
            "histogram": "FINISHED",
            "summarise": "FINISHED",
        }
    finally:
        local_backend.close()
        dask_backend.close()


@step(retries=2, backoff=0.01)
def flaky(counter: str) -> int:
    done = int(Path(counter).read_text()) if Path(counter).exists() else 0
    Path(counter).write_text(str(done + 1))
    if done < 2:
        raise ConnectionError(f"try {done + 1} failed")
    return done + 1


@step
def broken(value: int) -> int:
    raise ValueError(f"cannot use {value}")


@step
def after(value: int) -> int:
    return value + 1


@pipeline(name="tests:retries")
def retried(counter: str) -> Any:
    attempts = flaky(counter)
    return {"bad": after(broken(attempts)), "attempts": attempts}


def test_retries_and_failures_on_dask(cluster: str, backend: LocalBackend, tmp_path: Path) -> None:
    with pytest.raises(PipelineFailed, match="step 'broken' failed on its only attempt") as caught:
        retried.run(
            {"counter": str(tmp_path / "count")}, backend=backend, project="churn", executor=cluster
        )
    run = caught.value.run
    assert run.status == "FAILED"
    by_step = {s.step: s for s in run.steps}
    assert by_step["flaky"].status == "FINISHED" and by_step["flaky"].attempts == 3
    assert "ConnectionError: try 2 failed" in by_step["flaky"].logs
    assert by_step["broken"].status == "FAILED"
    assert by_step["broken"].error and "ValueError: cannot use 3" in by_step["broken"].error
    assert by_step["after"].status == "SKIPPED"


@step
def fragile(marker: str, rows: int) -> pd.DataFrame:
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies in the middle of the step
    return pd.DataFrame({"x": range(rows)})


@step
def doomed(rows: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)  # kills every worker that tries it
    return rows


@pipeline(name="tests:killed-once")
def killed_once(marker: str) -> Any:
    return {"frame": fragile(marker, 10)}


@pipeline(name="tests:killed-always")
def killed_always() -> Any:
    return {"n": after(doomed(3))}


def test_a_worker_killed_mid_step_is_retried_on_another(
    cluster: str, backend: LocalBackend, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"
    run = killed_once.run(
        {"marker": str(marker)}, backend=backend, project="churn", executor=cluster
    )
    assert marker.exists()  # the first attempt did kill its worker
    assert run.status == "FINISHED"
    assert load_outputs(run, backend)["frame"]["x"].tolist() == list(range(10))


def test_a_step_that_kills_every_worker_fails_the_run_cleanly(
    cluster: str, backend: LocalBackend
) -> None:
    with pytest.raises(PipelineFailed, match="did not complete on the Dask cluster") as caught:
        killed_always.run(backend=backend, project="churn", executor=cluster)
    run = caught.value.run
    assert run.status == "FAILED" and run.ended_at is not None
    by_step = {s.step: s for s in run.steps}
    assert by_step["doomed"].status == "FAILED"
    assert by_step["doomed"].error and "KilledWorker" in by_step["doomed"].error
    assert by_step["after"].status == "SKIPPED"


def test_no_scheduler_or_no_workers_never_hangs(backend: LocalBackend) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(InvalidInput, match=f"cannot reach the Dask scheduler at {address}"):
        diamond.run(
            backend=backend, project="churn", executor=DaskExecutor(address, connect_timeout=1)
        )
    assert backend.list_pipeline_runs("churn") == []  # refused before anything was recorded

    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty,
        Client(empty, set_as_default=False) as client,
    ):
        executor = DaskExecutor(client=client, no_worker_timeout=2)
        run = diamond.run(
            backend=backend, project="churn", executor=executor, raise_on_failure=False
        )
    assert run.status == "FAILED"
    first = run.steps[0]
    assert first.status == "FAILED" and first.error
    assert "no Dask worker was available for 2 s" in first.error
    assert [s.status for s in run.steps[1:]] == ["SKIPPED"] * 3


USER_FLOWS = """
import pandas as pd
from relayml.pipelines import pipeline, step


def double(values):
    return [v * 2 for v in values]


@step
def make(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": double(range(rows))})


@step
def total(frame: pd.DataFrame) -> int:
    return int(frame.x.sum())


@pipeline(name="user_flows:doubled")
def doubled(rows: int = 4):
    return {"total": total(make(rows))}
"""


def test_a_pipeline_from_python_ships_its_own_module_to_the_workers(
    cluster: str, backend: LocalBackend, tmp_path: Path
) -> None:
    """The pipeline's module is importable here only (not on sys.path, unknown to workers)."""
    import importlib.util
    import sys

    source = tmp_path / "user_flows_private.py"
    source.write_text(USER_FLOWS)
    name = f"user_flows_{tmp_path.name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        run = module.doubled.run({"rows": 4}, backend=backend, project="churn", executor=cluster)
    finally:
        del sys.modules[name]
    assert run.status == "FINISHED", run.error
    assert load_outputs(run, backend) == {"total": 12}
