"""Monitoring over windows from a real prediction log: late outcomes join the right windows,
the label-free estimate, KPIs from outcomes and from decisions."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.entities import KPI
from relayml.errors import InvalidInput
from relayml.models.publish import log_model
from relayml.monitoring.kpis import kpis_by_window, progress_text
from relayml.monitoring.windows import WindowQuery, performance_by_window
from relayml.predictions import ParquetLog, outcome_columns
from relayml.predictions.ids import new_prediction_ids

DAY = timedelta(days=1)
KEPT = KPI(
    name="customers_kept",
    unit="customers",
    target=10.0,
    definition={"type": "confusion_value", "tp": 0.5},
)
CALLS = KPI(
    name="call_value",
    unit="EUR",
    target=100.0,
    definition={"type": "confusion_value", "decision": "call", "tp": 50, "fp": -10},
)


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="dana"))
    backend.create_project("churn", kpis=[KEPT, CALLS])
    x = np.random.default_rng(0).normal(size=(200, 2))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    log_model(backend, "churn", model, "churn", x[:5])
    return backend


QUERY = WindowQuery("churn", "churn", "production")


def _write_predictions(backend: LocalBackend, when: datetime, labels: list[int]) -> list[str]:
    """Rows of the churn-production deployment made at `when`, as the server logs them."""
    ms = int(when.timestamp() * 1000)
    ids = new_prediction_ids(len(labels), ms)
    score = np.array([0.8 if label else 0.3 for label in labels])
    columns = {
        "timestamp": np.full(len(labels), ms, dtype=np.int64),
        "prediction_id": ids,
        "model": ["churn"] * len(labels),
        "version": np.ones(len(labels), dtype=np.int64),
        "variant": ["v1"] * len(labels),
        "mode": ["live"] * len(labels),
        "latency_ms": np.ones(len(labels)),
        "prediction": np.array(labels),
        "probabilities": [[1 - s, s] for s in score],
        "score": score,
        "decision": ["call" if label else "none" for label in labels],
        "input.f0": np.zeros(len(labels)),
        "input.f1": np.zeros(len(labels)),
    }
    with ParquetLog(backend.logs.url("predictions")) as log:
        log.append("project=churn/deployment=churn-production", columns)
    return ids


def _write_outcomes(backend: LocalBackend, ids: list[str], values: list[int]) -> None:
    now = time.time_ns() // 1_000_000
    with ParquetLog(backend.logs.url("outcomes")) as log:
        log.append("project=churn", outcome_columns(ids, values, now, "churn", "api"))


def test_late_outcomes_join_their_own_windows(backend: LocalBackend) -> None:
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - DAY
    old = _write_predictions(backend, yesterday, [1, 1, 0, 0, 1, 0, 0, 0])
    new = _write_predictions(backend, today, [1, 0, 0, 0])
    # labels for yesterday's predictions arrive today; 3 of 4 right on the first rows
    _write_outcomes(backend, old[:4], [1, 0, 0, 0])
    _write_outcomes(backend, new[:2], [1, 0])
    windows = performance_by_window(
        backend, backend.logs, WindowQuery("churn", "churn", "production", since=yesterday - DAY)
    )
    assert [(w.start.date(), w.predictions, w.outcomes) for w in windows] == [
        (yesterday.date(), 8, 4),
        (today.date(), 4, 2),
    ]
    assert windows[0].metrics["accuracy"] == 0.75 and windows[1].metrics["accuracy"] == 1.0
    assert windows[0].estimated["accuracy"] == pytest.approx(np.mean([0.8] * 3 + [0.7] * 5))

    # a corrected label (sent again) replaces the first one
    _write_outcomes(backend, old[1:2], [1])
    again = performance_by_window(
        backend, backend.logs, WindowQuery("churn", "churn", "production", since=yesterday - DAY)
    )
    assert again[0].outcomes == 4 and again[0].metrics["accuracy"] == 1.0


def test_kpis_per_window_from_outcomes_and_decisions(backend: LocalBackend) -> None:
    today = datetime.now(UTC) - timedelta(minutes=1)
    ids = _write_predictions(backend, today, [1, 1, 1, 0, 0])
    _write_outcomes(backend, ids, [1, 1, 0, 1, 0])  # TP=2, FP=1, FN=1, TN=1
    (window,) = kpis_by_window(backend, backend.logs, QUERY)
    kept, calls = window.kpis["customers_kept"], window.kpis["call_value"]
    assert kept["value"] == 1.0 and kept["meets_target"] is False
    assert calls["value"] == 2 * 50 - 10 and calls["meets_target"] is False
    assert "rows decided call count as positive" in calls["how"]
    assert progress_text("call_value", calls) == (
        "call_value: 90 EUR of the 100 target (90%), not met"
    )


def test_no_predictions_is_a_clear_message(backend: LocalBackend) -> None:
    with pytest.raises(InvalidInput, match="no predictions of churn in production are logged"):
        performance_by_window(backend, backend.logs, QUERY)
    with pytest.raises(InvalidInput, match="unknown window"):
        performance_by_window(backend, backend.logs, replace(QUERY, window="month"))


def test_closed_days_are_compacted_and_today_is_left_alone(backend: LocalBackend) -> None:
    from relayml.predictions import read_log

    now = datetime.now(UTC)
    for _ in range(3):  # three flushes yesterday, two today
        _write_predictions(backend, now - DAY, [1, 0])
    for _ in range(2):
        _write_predictions(backend, now, [0])
    url = backend.logs.url("predictions")
    before = sorted(read_log(url).column("prediction_id").to_pylist())
    done = backend.compact_logs("churn")
    assert [(d["log"], d["day"], d["files"]) for d in done] == [
        ("predictions", (now - DAY).date().isoformat(), 3)
    ]
    folders = {p.parent.name: len(list(p.parent.glob("*.parquet"))) for p in
               Path(url).rglob("*.parquet")}  # fmt: skip
    assert folders == {f"date={(now - DAY).date()}": 1, f"date={now.date()}": 2}
    assert sorted(read_log(url).column("prediction_id").to_pylist()) == before
    assert backend.compact_logs("churn") == []  # nothing left to do
