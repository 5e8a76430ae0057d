"""The bounded reads the web pages make of the Parquet logs: the latest predictions of a
deployment, newest first, page by page across days; a deployment's health per hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relayml.errors import InvalidInput
from relayml.predictions import PredictionLogs
from relayml.predictions.health import request_health
from relayml.predictions.latest import deployments_in_log, latest_predictions, outcome_of
from relayml.predictions.layout import deployment_partition

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def logs(tmp_path: Path) -> PredictionLogs:
    logs = PredictionLogs(str(tmp_path / "logs"))
    part = deployment_partition("churn", "churn-production")
    # 3 days x 40 live rows, one shadow twin each, and two rows sharing one millisecond
    stamps = [NOW - timedelta(days=d, minutes=m) for d in range(3) for m in range(40)]
    ids = [f"{i:024x}" for i in range(len(stamps))]  # prediction ids are 24 hex digits
    ties = ["a" * 24, "b" * 24]
    with logs.writer("predictions") as log:
        for mode in ("live", "shadow"):
            log.append(part, {
                "timestamp": [_ms(s) for s in stamps] + [_ms(NOW) + 5] * 2,
                "prediction_id": ids + ties,
                "version": [1] * (len(ids) + 2),
                "variant": ["v1" if mode == "live" else "v2"] * (len(ids) + 2),
                "mode": [mode] * (len(ids) + 2),
                "latency_ms": [10.0] * (len(ids) + 2),
                "prediction": [i % 2 for i in range(len(ids) + 2)],
            })  # fmt: skip
        log.append(deployment_partition("churn", "other-staging"), {
            "timestamp": [_ms(NOW)], "prediction_id": ["x"], "version": [1], "variant": ["v1"],
            "mode": ["live"], "latency_ms": [1.0], "prediction": [0],
        })  # fmt: skip
    with logs.writer("requests") as log:
        log.append(part, {
            "timestamp": [_ms(NOW - timedelta(minutes=m)) for m in range(90)],
            "route": ["/predict"] * 90,
            "status": [500 if m % 10 == 0 else 200 for m in range(90)],
            "ms": [float(m) for m in range(90)],
        })  # fmt: skip
    logs.log_outcomes("churn", [f"{3:024x}"], [1], model="churn", source="sdk")
    return logs


def test_pages_go_newest_first_across_days_without_repeats(logs: PredictionLogs) -> None:
    assert deployments_in_log(logs, "churn") == ["churn-production", "other-staging"]
    assert deployments_in_log(logs, "nothing") == []
    seen: list[str] = []
    cursor = None
    while True:
        page = latest_predictions(logs, "churn", "churn-production", limit=25, cursor=cursor)
        seen += [r["prediction_id"] for r in page.rows]
        assert all(r["mode"] == "live" for r in page.rows)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 122 and len(set(seen)) == 122  # every live row once, the tie included
    assert seen[:2] == ["b" * 24, "a" * 24]
    assert seen[2:5] == [f"{i:024x}" for i in range(3)]
    assert seen[-1] == f"{119:024x}"


def test_bad_cursors_and_limits_are_told(logs: PredictionLogs) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        latest_predictions(logs, "churn", "churn-production", cursor="yesterday")
    with pytest.raises(InvalidInput, match="limit"):
        latest_predictions(logs, "churn", "churn-production", limit=100_000)
    empty = latest_predictions(logs, "churn", "nowhere-production")
    assert empty.rows == [] and empty.next_cursor is None


def test_health_per_hour_and_the_outcome_of_one_prediction(logs: PredictionLogs) -> None:
    health = request_health(logs, "churn", "churn-production", days=1, now=NOW)
    assert health.requests == 90 and health.errors == 9 and health.source == "requests"
    assert health.error_rate == pytest.approx(0.1)
    assert health.counts == [29, 60, 1]  # 10:31-10:59, 11:00-11:59, 12:00 on the dot
    assert health.buckets[1] == int(datetime(2026, 12, 2, 11, tzinfo=UTC).timestamp())
    assert health.error_counts == [2, 6, 1]
    assert health.p50_ms == pytest.approx(44.5)
    fallback = request_health(logs, "churn", "other-staging", days=1, now=NOW + timedelta(1))
    assert fallback.source == "predictions" and fallback.requests == 1
    assert request_health(logs, "churn", "nowhere", days=1, now=NOW).source == "none"
    found = outcome_of(logs, "churn", f"{3:024x}", NOW - timedelta(hours=1))
    assert found is not None and found["label"] == "1" and found["source"] == "sdk"
    assert outcome_of(logs, "churn", f"{4:024x}", NOW - timedelta(hours=1)) is None
