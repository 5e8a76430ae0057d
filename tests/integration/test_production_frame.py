"""A deployment's production data from the real Parquet log, joined with late outcomes:
in-process on SQLite and PostgreSQL, and over HTTP (Arrow IPC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import relayml as relay
from relayml.backend import prediction_logs
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, NotFound
from relayml.predictions import PredictionLogs
from relayml.predictions.layout import deployment_partition, project_partition
from relayml.predictions.outcomes import outcome_columns
from tests.integration.test_deployments_contract import register

NOW = datetime.now(UTC).replace(microsecond=0)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _logs(backend: Backend, request: pytest.FixtureRequest) -> PredictionLogs:
    """The logs the backend (or its server) reads."""
    local: Any = backend
    if hasattr(local, "logs"):
        logs: PredictionLogs = local.logs
        return logs
    return prediction_logs(get_settings(home=request.getfixturevalue("relay_server_home")))


def _pid(i: int) -> str:
    return f"{i:024x}"


def _write(logs: PredictionLogs, project: str) -> None:
    # production: rows 0..5, one every 12 hours back from NOW (two or three UTC days);
    # staging: one row at NOW that must not show in production's frame
    stamps = [NOW - timedelta(hours=12 * i) for i in range(6)]
    with logs.writer("predictions") as log:
        log.append(deployment_partition(project, "churn-production"), {
            "timestamp": [_ms(s) for s in stamps],
            "prediction_id": [_pid(i) for i in range(6)],
            "version": [1] * 6,
            "variant": ["v1"] * 6,
            "mode": ["live"] * 5 + ["shadow"],
            "latency_ms": [3.0] * 6,
            "input.x": [float(i) for i in range(6)],
            "prediction": [i % 2 for i in range(6)],
            # a classifier's probabilities: a list column, which Arrow's join refuses to carry
            "probabilities": [[1 - i / 10, i / 10] for i in range(6)],
            "decision": ["call" if i % 2 else "wait" for i in range(6)],
        })  # fmt: skip
        log.append(deployment_partition(project, "churn-staging"), {
            "timestamp": [_ms(NOW)], "prediction_id": [_pid(99)], "version": [1],
            "variant": ["v1"], "mode": ["live"], "latency_ms": [1.0], "input.x": [9.0],
            "prediction": [1], "decision": ["call"],
        })  # fmt: skip


def test_the_frame_holds_inputs_predictions_decisions_and_the_last_outcome(
    backend: Backend, project: str, request: pytest.FixtureRequest
) -> None:
    register(backend, project, versions=1)
    logs = _logs(backend, request)
    _write(logs, project)
    backend.log_outcomes(project, [_pid(1), _pid(2)], [0, 1], model="churn")
    later = _ms(datetime.now(UTC)) + 60_000  # a correction a minute later: the last one wins
    with logs.writer("outcomes") as log:
        log.append(
            project_partition(project), outcome_columns([_pid(1)], [1], later, "churn", "sdk")
        )

    since, until = NOW - timedelta(hours=36), NOW - timedelta(hours=6)
    table = backend.production_table(project, "churn", "production", since=since, until=until)
    frame = table.to_pandas()
    assert list(frame["prediction_id"]) == [_pid(3), _pid(2), _pid(1)]  # oldest first
    assert [list(p) for p in frame["probabilities"]] == [[0.7, 0.3], [0.8, 0.2], [0.9, 0.1]]
    assert list(frame["input.x"]) == [3.0, 2.0, 1.0]
    assert list(frame["prediction"]) == [1, 0, 1]
    assert list(frame["decision"]) == ["call", "wait", "call"]
    assert frame["outcome"].tolist()[1:] == ["1", "1"] and frame["outcome"].isna().tolist()[0]
    assert frame["outcome_value"].tolist()[1:] == [1.0, 1.0]
    assert frame["outcome_value"].isna().tolist() == [True, False, False]
    assert frame["outcome_time"].notna().tolist() == [False, True, True]
    assert frame["time"].tolist() == [NOW - timedelta(hours=h) for h in (36, 24, 12)]
    for key in ("project", "deployment", "date"):
        assert key not in frame.columns  # partitions are not data

    everything = backend.production_table(project, "churn", "production").to_pandas()
    assert sorted(everything["prediction_id"]) == [_pid(i) for i in range(6)]
    assert set(everything["mode"]) == {"live", "shadow"}
    staging = backend.production_table(project, "churn", "staging").to_pandas()
    assert list(staging["prediction_id"]) == [_pid(99)]
    assert staging["outcome"].isna().all()


def test_an_empty_window_and_bad_requests_are_told(backend: Backend, project: str) -> None:
    register(backend, project, versions=1)
    empty = backend.production_table(
        project, "churn", "production", since=NOW - timedelta(days=3), until=NOW
    )
    assert empty.num_rows == 0
    assert {"time", "outcome", "outcome_value", "outcome_time"} <= set(empty.column_names)
    with pytest.raises(InvalidInput, match=r"since .* is after until"):
        backend.production_table(
            project, "churn", "production", since=NOW, until=NOW - timedelta(1)
        )
    with pytest.raises(NotFound):
        backend.production_table(project, "nope", "production")
    with pytest.raises(NotFound):
        backend.production_table("no-such-project", "churn", "production")


def test_the_sdk_gives_pandas_or_arrow(tmp_path: Any) -> None:
    relay.init(project="shop", home=tmp_path / "home")
    backend: Any = relay.get_backend()
    register(backend, "shop", versions=1)
    _write(backend.logs, "shop")
    frame = relay.production_frame("churn", env="production")
    assert len(frame) == 6 and "input.x" in frame.columns
    since = NOW - timedelta(hours=1)
    table = relay.production_frame("churn", since=since, as_arrow=True)
    assert table.column("prediction_id").to_pylist() == [_pid(0)]
