"""A schedule fired where RELAY_EXECUTOR is a Dask cluster: its run's steps go to the cluster,
through the executor every pipeline run uses (a real LocalCluster)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset

pytestmark = pytest.mark.timeout(180)

FLOWS = """
import os

import relayml as relay


@relay.step
def where() -> int:
    return os.getpid()


@relay.pipeline
def data():
    return {"pid": where()}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A LocalCluster with one worker process; its address as dask://host:port."""
    from distributed import LocalCluster

    local = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    try:
        yield local.scheduler_address.replace("tcp://", "dask://")
    finally:
        local.close(timeout=20)


def test_a_fired_schedule_runs_its_steps_on_the_dask_cluster(
    cluster: str, sqlite_url: str, tmp_path: Path
) -> None:
    (tmp_path / "flows_dask.py").write_text(FLOWS)
    settings = get_settings(home=tmp_path / "home", database_url=sqlite_url, executor=cluster)
    backend = LocalBackend(settings)
    try:
        backend.create_project("churn")
        log_dataset(backend, "churn", "customers", pd.DataFrame({"x": [1, 2]}))
        backend.add_schedule(
            "churn", "on-data", f"{tmp_path / 'flows_dask.py'}:data", on="dataset:customers"
        )
        log_dataset(backend, "churn", "customers", pd.DataFrame({"x": [1, 3]}))
        (firing,) = backend.tick_schedules("churn", wait=True)
        assert firing.status == "finished", firing
        assert firing.pipeline_run is not None
        run = backend.get_pipeline_run(firing.pipeline_run)
        assert (run.status, run.executor) == ("FINISHED", cluster)
    finally:
        backend.close()
