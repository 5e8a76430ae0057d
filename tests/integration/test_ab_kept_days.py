"""The A/B report with each closed day's sums kept (deployments/ab_windows.py) against the same
report computed from the log alone, on a real store: the same figures; kept sums are read back
while nothing that fed them changed, and recomputed when a late outcome or a late file reaches
their day. The day-by-day figures are also checked against one read of the whole joined log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.deployments.abresults import ABReport, ab_results
from relayml.domain.entities import KPI
from relayml.models.publish import log_model
from relayml.monitoring.window_cache import CACHE_FOLDER
from relayml.predictions import ParquetLog, canonical_labels
from relayml.predictions.ids import new_prediction_ids
from tests.fixtures.window_logs import log_outcomes
from tests.fixtures.window_logs import same as _same

DAY = timedelta(days=1)
KPIS = [
    KPI(name="kept", unit="customers", target=10.0,
        definition={"type": "confusion_value", "tp": 0.5, "scale": 0.1}),
    KPI(name="calls", unit="EUR", target=100.0,
        definition={"type": "confusion_value", "threshold": 0.6, "tp": 50.3, "fp": -10.7}),
]  # fmt: skip
PARTITION = "project=churn/deployment=churn-production"


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="dana"))
    backend.create_project("churn", kpis=KPIS)
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"x": rng.normal(0, 1, 800), "y": rng.normal(0, 1, 800)})
    labels = (train["x"] > 0).astype(int)
    log_dataset(backend, "churn", "customers", train.assign(churned=labels))
    model = LogisticRegression().fit(train, labels)
    log_model(backend, "churn", model, "churn", train.head(5), datasets=["customers"])
    backend.promote("churn", "churn/1", "production")
    backend.model = model  # type: ignore[attr-defined]
    return backend


def _log(backend: LocalBackend, when: datetime, rows: int, seed: int, **kw: Any) -> list[str]:
    """`rows` predictions made at `when` (one file), as the model server logs them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(0, 1, rows), "y": rng.normal(0, 1, rows)})
    ms = int(when.timestamp() * 1000)
    ids = new_prediction_ids(rows, ms)
    proba = backend.model.predict_proba(frame)  # type: ignore[attr-defined]
    variants = kw.get("variants", ["v1"])
    with ParquetLog(backend.logs.url("predictions")) as log:
        log.append(
            PARTITION,
            {
                "timestamp": ms + np.arange(rows, dtype=np.int64),
                "prediction_id": ids,
                "model": ["churn"] * rows,
                "version": np.ones(rows, dtype=np.int64),
                "variant": [variants[i % len(variants)] for i in range(rows)],
                "mode": [kw.get("mode", "live")] * rows,
                "latency_ms": rng.lognormal(1.0 + kw.get("slower", 0.0), 0.5, rows),
                "prediction": (proba[:, 1] >= 0.5).astype(np.int64),
                "score": proba[:, 1],
                "input.x": frame["x"].to_numpy(),
                "input.y": frame["y"].to_numpy(),
            },
        )
    return ids


def _store(backend: LocalBackend) -> tuple[datetime, list[list[str]]]:
    """Four days of predictions (two live variants, a shadow of v1's requests), outcomes on
    three of them; the days' ids."""
    # 01:00 of the current UTC day, whatever the clock says: each day's files stay in their day
    # (near midnight "an hour ago" would put a day's second file into the next one)
    today = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    days = []
    for back in (3, 2, 1, 0):
        when = today - back * DAY
        ids = _log(backend, when, 300, seed=10 + back, variants=["v1", "v2"])
        ids += _log(backend, when + timedelta(minutes=90), 100, seed=20 + back, slower=0.2)
        days.append(ids)
    _log(backend, today - 2 * DAY, 50, seed=99, mode="shadow", variants=["v3"])
    log_outcomes(backend, days[0][:120], [1, 0, 0] * 40)
    log_outcomes(backend, days[1][:60], [0, 1] * 30)
    log_outcomes(backend, days[3][:40], [1] * 40)
    log_outcomes(backend, days[0][:10], [0] * 10)  # relabelled: the last outcome counts
    return today, days


def _report(backend: LocalBackend, keep: bool, since: datetime | None = None) -> ABReport:
    return ab_results(backend, backend.logs, "churn", "churn", "production", since=since, keep=keep)


def _doc(backend: LocalBackend) -> Path:
    return Path(backend.logs.root) / CACHE_FOLDER / PARTITION / "ab-day.json"


def _from_the_whole_log(backend: LocalBackend, report: ABReport, since: datetime | None) -> None:
    """The report's counts, latencies and means against one read of the joined log."""
    frame = backend.logs.joined("churn", "churn-production", since)
    assert [v.name for v in report.variants] == ["v1", "v2", "v3"]
    for v in report.variants:
        rows = frame[(frame["variant"] == v.name) & (frame["mode"] == v.mode)]
        known = rows[rows["outcome"].notna()]
        assert (v.predictions, v.outcomes) == (len(rows), len(known))
        latency = rows["latency_ms"].to_numpy()
        assert v.latency_p50_ms == float(np.percentile(latency, 50))
        assert v.latency_p99_ms == float(np.percentile(latency, 99))
        if not len(known):
            assert v.metrics == v.kpis == {}
            continue
        predicted = np.array(canonical_labels(known["prediction"].to_numpy()), dtype=object)
        correct = predicted == known["outcome"].to_numpy()
        assert v.metrics == {"accuracy": correct.sum() / len(known)}
        actual = known["outcome"].to_numpy() == "1"
        said = known["score"].to_numpy() >= 0.6
        calls = np.where(said, np.where(actual, 50.3, -10.7), 0.0)
        kept = 0.1 * np.where(predicted == "1", np.where(actual, 0.5, 0.0), 0.0)
        assert v.kpis == pytest.approx({"kept": kept.mean(), "calls": calls.mean()}, rel=1e-12)
    live = sum(v.predictions for v in report.variants if v.mode == "live")
    assert live == int((frame["mode"] == "live").sum())


@pytest.mark.parametrize("partial", [False, True])
def test_kept_days_give_the_report_computed_from_the_log(
    backend: LocalBackend, partial: bool
) -> None:
    today, _ = _store(backend)
    since = today - 2 * DAY - timedelta(minutes=30) if partial else None  # a partial first day
    expected = _report(backend, keep=False, since=since)
    assert not _doc(backend).exists(), "nothing is kept unless asked"
    assert expected.comparisons and expected.variants[0].outcomes
    _from_the_whole_log(backend, expected, since)
    same_exactly(_report(backend, keep=True, since=since), expected, "computed")
    kept = json.loads(_doc(backend).read_text())["windows"]
    assert len([w for w in kept.values() if "ab" in w]) == (1 if partial else 3)
    same_exactly(_report(backend, keep=True, since=since), expected, "read back")


def _mark(backend: LocalBackend, day: datetime) -> None:
    """Write a marker into the kept sums of v2 on a day: shown only if they are read back."""
    doc = json.loads(_doc(backend).read_text())
    entry = doc["windows"][str(int(day.replace(hour=0).timestamp()))]
    group = next(g for g in entry["ab"]["value"]["groups"] if g["variant"] == "v2")
    group["predictions"] += 100_000
    _doc(backend).write_text(json.dumps(doc))


def test_a_late_outcome_refreshes_its_day(backend: LocalBackend) -> None:
    today, days = _store(backend)
    _report(backend, keep=True)
    _mark(backend, today - 2 * DAY)
    marked = _report(backend, keep=True)
    assert marked.variants[1].predictions > 100_000, "a closed day's sums are read back"

    log_outcomes(backend, days[1][200:260], [1] * 60)  # late labels of that day's predictions
    found = _report(backend, keep=True)
    assert found.variants[1].predictions < 100_000, "the day was read again"
    expected = _report(backend, keep=False)
    same_exactly(found, expected)
    _from_the_whole_log(backend, found, None)


def test_a_late_outcome_of_another_day_keeps_this_one(backend: LocalBackend) -> None:
    today, days = _store(backend)
    _report(backend, keep=True)
    _mark(backend, today - 2 * DAY)
    log_outcomes(backend, days[0][300:330], [1] * 30)  # three days back, not two
    assert _report(backend, keep=True).variants[1].predictions > 100_000


def test_a_late_file_in_a_closed_day_is_read(backend: LocalBackend) -> None:
    today, _ = _store(backend)
    _report(backend, keep=True)
    _mark(backend, today - 3 * DAY)
    _log(backend, today - 3 * DAY + timedelta(hours=2), 80, seed=5, variants=["v2", "v4"])
    found = _report(backend, keep=True)
    same_exactly(found, _report(backend, keep=False))
    assert [v.name for v in found.variants] == ["v1", "v2", "v4", "v3"]


def test_changed_kpis_refresh_the_kept_sums(backend: LocalBackend) -> None:
    today, _ = _store(backend)
    _report(backend, keep=True)
    _mark(backend, today - DAY)
    backend.update_project("churn", kpis=KPIS[:1])
    found = _report(backend, keep=True)
    assert list(found.variants[0].kpis) == ["kept"]
    same_exactly(found, _report(backend, keep=False))


def test_the_deployment_page_shows_the_kept_report(backend: LocalBackend) -> None:
    from fastapi.testclient import TestClient

    from relayml.api.app import create_app

    _store(backend)
    expected = _report(backend, keep=False)
    app = create_app(backend, auth=False)
    with TestClient(app) as client:
        pages = [client.get("/projects/churn/deployments/churn/production") for _ in range(2)]
    assert [p.status_code for p in pages] == [200, 200]
    assert _doc(backend).exists()
    for page in pages:
        ab = page.text.split("<h2>A/B results</h2>", 1)[1].split("<h2>Revisions</h2>", 1)[0]
        assert expected.verdict.rstrip(".") in ab
        assert f"{expected.variants[1].predictions:,}" in ab
    assert pages[0].text.split("<h2>A/B")[1] == pages[1].text.split("<h2>A/B")[1]


def same_exactly(a: Any, b: Any, where: str = "") -> None:
    """Equal values of the same types, NaN equal to NaN."""
    _same(a, b, where, exact_types=True)
