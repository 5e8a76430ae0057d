"""Training frames on a real Dask cluster (LocalCluster, 2 worker processes) give the same values
as in-process, the workers reading the dataset source from the artifact store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.errors import SchedulerUnavailable
from relayml.features import training_frame
from relayml.features.declare import specs_of


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A LocalCluster with 2 worker processes; its address as dask://host:port."""
    from distributed import LocalCluster

    local = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    try:
        yield local.scheduler_address.replace("tcp://", "dask://")
    finally:
        local.close(timeout=20)


def test_the_dask_join_matches_the_in_process_one(cluster: str, tmp_path: Path) -> None:
    backend = LocalBackend(get_settings(home=tmp_path / "home"))
    backend.create_project("churn")
    rng = np.random.default_rng(5)
    rows = 3_000
    day = pd.Timestamp("2024-01-01", tz="UTC")
    source = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 200, rows),
            "event_time": day + pd.to_timedelta(rng.integers(0, 60, rows), unit="D"),
            "created_at": day + pd.to_timedelta(rng.integers(0, 70, rows), unit="D"),
            "tenure": rng.integers(0, 100, rows),
            "spend": rng.normal(50, 10, rows),
        }
    )  # days, not instants: many ties of (customer, event time) for the duplicate rule
    log_dataset(backend, "churn", "events", source)
    profile = FeatureSet(
        name="customer",
        entity="customer",
        source=Source(dataset="events"),
        features=[Feature("tenure", "int64"), Feature("spend")],
        created_time="created_at",
        ttl=timedelta(days=20),
    )
    backend.apply_features(
        "churn", specs_of([Entity("customer", join_keys=["customer_id"]), profile])
    )
    entities = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 220, 1_000),  # some never seen
            "event_time": day + pd.to_timedelta(rng.integers(-5, 80, 1_000), unit="D"),
        }
    )
    features = ["customer:tenure", "customer:spend"]
    try:
        for known in (False, True):
            here = training_frame(
                entities, features, as_of_known=known, name=None, backend=backend, project="churn"
            )
            there = training_frame(
                entities,
                features,
                as_of_known=known,
                name=None,
                executor=cluster,
                backend=backend,
                project="churn",
            )
            pd.testing.assert_frame_equal(here, there)
            assert here["tenure"].notna().sum() > 300  # the comparison is not of empty columns
    finally:
        backend.close()


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path: Path) -> None:
    import dask

    backend = LocalBackend(get_settings(home=tmp_path / "home"))
    backend.create_project("churn")
    entities = pd.DataFrame({"customer_id": [1], "event_time": [pd.Timestamp("2024-01-01")]})
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(SchedulerUnavailable, match="could not be reached"),
    ):
        training_frame(
            entities,
            ["customer:tenure"],
            executor="dask://127.0.0.1:9",
            backend=backend,
            project="churn",
        )
    backend.close()
