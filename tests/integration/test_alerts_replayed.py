"""Alert rules over replayed traffic: evaluated as of a moment (`relay monitor run --at`), and a
canary's rows compared with the reference of the version that holds the environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import relayml as relay
from relayml.backend import LocalBackend
from relayml.predictions.layout import deployment_partition

PROJECT = "replayed"
DRIFT = "alerts:\n  - {name: drift, model: m, figure: drift_share, above: 0.3, window: day}\n"
TRAFFIC = "alerts:\n  - {name: traffic, model: m, figure: traffic, below: 1, window: hour}\n"


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LocalBackend]:
    """Two versions of model m: v1 trained on x ~ N(0, 1), v2 on x ~ N(3, 1); v1 in production."""
    relay.init(project=PROJECT, home=tmp_path / "home")
    rng = np.random.default_rng(0)
    for version, centre in ((1, 0.0), (2, 3.0)):
        x = rng.normal(centre, 1, 2000)
        data = pd.DataFrame({"x": x, "y": (x > centre).astype(int)})
        relay.log_dataset(f"train{version}", data)
        model = LogisticRegression().fit(data[["x"]], data["y"])
        with relay.start_run(experiment="e") as run:
            run.log_model(
                model, "m", input_example=data[["x"]].head(3), datasets=[f"train{version}"]
            )
    relay.promote("m/1", to="production")
    local = relay.get_backend()
    assert isinstance(local, LocalBackend)
    yield local
    relay.flush()


def _log(backend: LocalBackend, at: datetime, versions: list[int], x: np.ndarray) -> None:
    """Rows as the model server logs them, at `at` (a replay), in the given versions' order."""
    ms = int(at.timestamp() * 1000)
    rows = len(versions)
    with backend.logs.writer("predictions") as log:
        log.append(deployment_partition(PROJECT, "m-production"), {
            "timestamp": [ms] * rows,
            "prediction_id": [f"{ms:012x}{i:012x}" for i in range(rows)],
            "version": versions,
            "variant": [f"v{v}" for v in versions],
            "mode": ["live"] * rows,
            "latency_ms": [1.0] * rows,
            "input.x": x.tolist(),
            "prediction": [0] * rows,
        })  # fmt: skip


def test_rules_evaluate_as_of_a_moment_in_the_past(backend: LocalBackend, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(TRAFFIC)
    backend.set_alert_rules(PROJECT, rules.read_text())
    then = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    _log(backend, then, [1] * 50, np.random.default_rng(1).normal(0, 1, 50))
    [past] = backend.run_monitors(PROJECT, then + timedelta(minutes=30))
    assert (past["value"], past["outcome"]) == (50.0, "ok")
    [later] = backend.run_monitors(PROJECT, then + timedelta(hours=3))  # a quiet hour then
    assert (later["value"], later["outcome"]) == (0.0, "fired")
    [event] = backend.list_alert_events(PROJECT)
    assert event.opened_at == then + timedelta(hours=3)  # when it was evaluated, not now
    [now] = backend.run_monitors(PROJECT)  # nothing in the last hour today either
    assert (now["value"], now["outcome"]) == (0.0, "still firing")


def test_a_canary_is_compared_with_what_the_holder_was_trained_on(
    backend: LocalBackend, tmp_path: Path
) -> None:
    backend.set_alert_rules(PROJECT, DRIFT)
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    # 80% v1, 20% a canary of v2, all inputs like v1's training data; the newest row is v2's
    versions = [1] * 160 + [2] * 40
    order = np.random.default_rng(2).permutation(200)
    versions = [versions[i] for i in order[:-1]] + [2]
    _log(backend, moment, versions, np.random.default_rng(3).normal(0, 1, 200))
    [result] = backend.run_monitors(PROJECT)
    assert result["outcome"] == "ok" and result["value"] == 0.0, result  # against train1
