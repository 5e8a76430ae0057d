"""Drift per window on a real Dask cluster (LocalCluster, 2 worker processes) agrees with the
in-memory report on the same prediction log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.errors import InvalidInput
from relayml.models.publish import log_model
from relayml.monitoring.windows import WindowQuery, drift_by_window
from relayml.monitoring.windows_dask import drift_by_window_on_dask
from relayml.predictions import ParquetLog
from relayml.predictions.ids import new_prediction_ids


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


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, rows),
            "y": rng.normal(0.0, 1.0, rows),
            "plan": rng.choice(["basic", "pro"], rows),
        }
    )


def test_dask_windows_match_the_in_memory_ones(tmp_path: Path, cluster: str) -> None:
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="dana"))
    backend.create_project("churn")
    train = _frame(3000, seed=1)
    labels = (train["x"] > 0).astype(int)
    log_dataset(backend, "churn", "customers", train.assign(churned=labels))
    model = LogisticRegression().fit(train[["x", "y"]], labels)
    log_model(backend, "churn", model, "churn", train[["x", "y"]].head(5), datasets=["customers"])
    backend.promote("churn", "churn/1", "production")
    day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with ParquetLog(backend.logs.url("predictions")) as log:
        for hour, shift in ((0, 0.0), (1, 0.0), (2, 1.5)):  # the third hour moved
            rows = _frame(2000, seed=10 + hour, shift=shift)
            ms = int(day.timestamp() * 1000) + hour * 3_600_000
            score = model.predict_proba(rows[["x", "y"]])[:, 1]
            for chunk in np.array_split(np.arange(2000), 4):  # several files per window
                log.append(
                    "project=churn/deployment=churn-production",
                    {
                        "timestamp": np.full(len(chunk), ms, dtype=np.int64),
                        "prediction_id": new_prediction_ids(len(chunk), ms),
                        "version": np.ones(len(chunk), dtype=np.int64),
                        "variant": ["v1"] * len(chunk),
                        "mode": ["live"] * len(chunk),
                        "prediction": (score[chunk] >= 0.5).astype(np.int64),
                        "score": score[chunk],
                        "input.x": rows["x"].to_numpy()[chunk],
                        "input.y": rows["y"].to_numpy()[chunk],
                    },
                )
                log.flush()
    args = (backend, backend.logs, WindowQuery("churn", "churn", "production", window="hour"))
    _, in_memory = drift_by_window(*args)
    name, on_dask = drift_by_window_on_dask(*args, cluster)
    assert name == "customers@1"
    assert [(w.start, w.report.current_rows) for w in on_dask] == [
        (w.start, w.rows) for w in in_memory
    ]
    assert [w.report.drifted_columns for w in on_dask] == [(), (), ("x",)]
    assert [w.report.drifted_columns for w in in_memory] == [(), (), ("x",)]
    for fast, exact in zip(on_dask, in_memory, strict=True):
        for a, b in zip(fast.report.columns, exact.report.columns, strict=True):
            assert a.column == b.column and a.score == pytest.approx(b.score, abs=0.01)
    with pytest.raises(InvalidInput, match="not a Dask scheduler"):
        drift_by_window_on_dask(*args, "tcp://nowhere:1")


def test_an_unreachable_scheduler_is_one_sentence_on_the_command_line(tmp_path: Path) -> None:
    """`relay monitor drift --executor dask://unreachable:1`: exit 1, an Error: line, no
    traceback (Dask's connect timeout shortened to 1 s through its own setting)."""
    import subprocess
    import sys

    home = tmp_path / "home"
    backend = LocalBackend(get_settings(home=home, user="dana"))
    try:
        backend.create_project("churn")
        train = _frame(50, seed=1)
        model = LogisticRegression().fit(train[["x", "y"]], train["x"] > 0)
        log_model(backend, "churn", model, "churn", train[["x", "y"]].head(5))
    finally:
        backend.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "DASK_"))}
    env |= {"RELAY_HOME": str(home), "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    args = ["monitor", "drift", "churn", "--env", "production", "-p", "churn"]
    done = subprocess.run(
        [sys.executable, "-m", "relayml.cli", *args, "--executor", "dask://unreachable:1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "OSError" not in done.stderr
    error = " ".join(done.stderr.split())
    assert error.startswith(
        "Error: the Dask scheduler at dask://unreachable:1 could not be reached (waited 1s)."
    ), done.stderr
    assert "--executor" in error and "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT" in error
