"""The kept per-window figures (relayml.monitoring.window_cache) against the uncached path on a
real store: the same drift, performance and KPIs; kept figures are read back while nothing that
fed them changed, and recomputed when a late outcome or a late file reaches their window."""

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
from relayml.deployments.abresults import ab_results
from relayml.domain.entities import KPI
from relayml.errors import InvalidInput
from relayml.models.publish import log_model
from relayml.monitoring.kpis import kpis_by_window
from relayml.monitoring.window_cache import CACHE_FOLDER, WindowFigures
from relayml.monitoring.windows import WindowQuery, drift_by_window, performance_by_window
from relayml.predictions import ParquetLog
from relayml.predictions.ids import new_prediction_ids
from tests.fixtures.window_logs import log_outcomes, same

DAY = timedelta(days=1)
KPIS = [
    KPI(name="kept", unit="customers", target=10.0,
        definition={"type": "confusion_value", "tp": 0.5}),
    KPI(name="calls", unit="EUR", target=100.0,
        definition={"type": "confusion_value", "decision": "call", "tp": 50, "fp": -10}),
]  # fmt: skip
PARTITION = "project=churn/deployment=churn-production"


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, rows),
            "y": rng.normal(0.0, 1.0, rows),
            "plan": rng.choice(["basic", "pro", "team"], rows),
        }
    )


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="dana"))
    backend.create_project("churn", kpis=KPIS)
    train = _frame(1500, seed=1)
    labels = (train["x"] > 0).astype(int)
    log_dataset(backend, "churn", "customers", train.assign(churned=labels))
    model = LogisticRegression().fit(train[["x", "y"]], labels)
    log_model(backend, "churn", model, "churn", train[["x", "y"]].head(5), datasets=["customers"])
    backend.promote("churn", "churn/1", "production")
    backend.model = model  # type: ignore[attr-defined]
    return backend


def _log(backend: LocalBackend, when: datetime, rows: int, seed: int, **kw: Any) -> list[str]:
    """`rows` predictions made at `when` (one file), as the model server logs them."""
    model = backend.model  # type: ignore[attr-defined]
    frame = _frame(rows, seed, kw.get("shift", 0.0))
    ms = int(when.timestamp() * 1000)
    ids = new_prediction_ids(rows, ms)
    proba = model.predict_proba(frame[["x", "y"]])
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
                "latency_ms": np.random.default_rng(seed).lognormal(1.0, 0.5, rows),
                "prediction": (proba[:, 1] >= 0.5).astype(np.int64),
                "probabilities": [list(p) for p in proba],
                "score": proba[:, 1],
                "decision": ["call" if p >= 0.6 else "none" for p in proba[:, 1]],
                "input.x": frame["x"].to_numpy(),
                "input.y": frame["y"].to_numpy(),
            },
        )
    return ids


def _store(backend: LocalBackend) -> tuple[datetime, list[list[str]]]:
    """Four days of predictions (two variants, a shadow), some outcomes; the days' ids."""
    # 01:00 of the current UTC day, whatever the clock says: each day's files stay in their day
    # (near midnight "an hour ago" would put a day's second file into the next one)
    today = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    days = []
    for back, shift in ((3, 0.0), (2, 0.3), (1, 1.2), (0, 0.0)):
        ids = _log(backend, today - back * DAY, 300, seed=10 + back, shift=shift,
                   variants=["v1", "v2"])  # fmt: skip
        ids += _log(backend, today - back * DAY + timedelta(minutes=90), 100, seed=20 + back)
        days.append(ids)
    _log(backend, today - 2 * DAY, 50, seed=99, mode="shadow", variants=["v3"])
    log_outcomes(backend, days[0][:120], [1, 0, 0] * 40)
    log_outcomes(backend, days[1][:60], [0, 1] * 30)
    log_outcomes(backend, days[3][:30], [1] * 30)
    return today, days


def _uncached(backend: LocalBackend, query: WindowQuery) -> tuple[Any, Any, Any]:
    return (
        drift_by_window(backend, backend.logs, query),
        performance_by_window(backend, backend.logs, query),
        kpis_by_window(backend, backend.logs, query),
    )


def _cached(backend: LocalBackend, query: WindowQuery) -> tuple[Any, Any, Any]:
    figures = WindowFigures(backend, backend.logs, query)
    found = (figures.drift(), figures.performance(), figures.kpis())
    figures.save()
    return found


@pytest.mark.parametrize("window", ["hour", "day", "week"])
@pytest.mark.parametrize("by_variant", [False, True])
def test_kept_figures_equal_the_uncached_ones(
    backend: LocalBackend, window: str, by_variant: bool
) -> None:
    today, _ = _store(backend)
    since = today - 5 * DAY + timedelta(minutes=7)  # the first window is partial
    query = WindowQuery("churn", "churn", "production", window, since, by_variant)
    expected = _uncached(backend, query)
    assert len(expected[1]) >= (4 if window != "week" else 1)
    same(_cached(backend, query), expected, "computed")
    kept = Path(backend.logs.root) / CACHE_FOLDER / PARTITION
    if window != "week":  # no week lies wholly in 5 days
        assert list(kept.glob("*.json")), "closed windows are kept"
    same(_cached(backend, query), expected, "read back")


def test_kept_figures_are_read_back_until_an_outcome_reaches_their_window(
    backend: LocalBackend,
) -> None:
    today, days = _store(backend)
    query = WindowQuery("churn", "churn", "production", "day", today - 5 * DAY)
    _cached(backend, query)
    doc_path = Path(backend.logs.root) / CACHE_FOLDER / PARTITION / "day.json"
    doc = json.loads(doc_path.read_text())
    day_before = str(int((today - 2 * DAY).replace(hour=0).timestamp()))
    doc["windows"][day_before]["performance"]["value"][0]["outcomes"] = 12345  # a marker
    doc_path.write_text(json.dumps(doc))
    marked = WindowFigures(backend, backend.logs, query).performance()
    assert [w.outcomes for w in marked].count(12345) == 1, "a closed window's figures are kept"

    log_outcomes(backend, days[1][200:260], [1] * 60)  # late labels of that day's predictions
    fresh = WindowFigures(backend, backend.logs, query)
    found = fresh.performance()
    same(found, performance_by_window(backend, backend.logs, query))
    assert 12345 not in [w.outcomes for w in found]
    same(fresh.kpis(), kpis_by_window(backend, backend.logs, query))


def test_a_late_file_in_a_closed_day_is_read(backend: LocalBackend) -> None:
    today, _ = _store(backend)
    query = WindowQuery("churn", "churn", "production", "day", today - 5 * DAY)
    _cached(backend, query)
    _log(backend, today - 3 * DAY + timedelta(hours=2), 80, seed=5, shift=2.0)  # written late
    same(_cached(backend, query), _uncached(backend, query))


def test_the_newest_window_alone_as_the_home_page_asks(backend: LocalBackend) -> None:
    _store(backend)
    query = WindowQuery("churn", "churn", "production", "day", datetime.now(UTC) - DAY)
    last = WindowFigures(backend, backend.logs, query, keep=False).kpis(last_only=True)
    same(last[-1], kpis_by_window(backend, backend.logs, query)[-1])


def test_no_predictions_says_so_as_the_uncached_path(backend: LocalBackend) -> None:
    query = WindowQuery("churn", "churn", "production", "day", datetime.now(UTC) - DAY)
    with pytest.raises(InvalidInput, match="no predictions of churn in production are logged"):
        performance_by_window(backend, backend.logs, query)
    with pytest.raises(InvalidInput, match="no predictions of churn in production are logged"):
        WindowFigures(backend, backend.logs, query).performance()


def test_the_deployment_page_s_narrow_read_gives_the_same_ab_report(
    backend: LocalBackend,
) -> None:
    import relayml.api  # noqa: F401 - the web pages load under the API's app
    from relayml.web.pages.deployments import _ABColumns

    _store(backend)
    narrow = _ABColumns(backend.logs.root, backend.logs.options)
    expected = ab_results(backend, backend.logs, "churn", "churn", "production")
    assert len(expected.variants) == 3 and expected.comparisons
    same(ab_results(backend, narrow, "churn", "churn", "production"), expected)


def test_windows_that_left_the_span_are_not_kept(backend: LocalBackend) -> None:
    today, _ = _store(backend)
    _cached(backend, WindowQuery("churn", "churn", "production", "hour", today - 5 * DAY))
    doc_path = Path(backend.logs.root) / CACHE_FOLDER / PARTITION / "hour.json"
    before = [int(k) for k in json.loads(doc_path.read_text())["windows"]]
    since = today - DAY - timedelta(hours=12)
    query = WindowQuery("churn", "churn", "production", "hour", since)
    same(_cached(backend, query), _uncached(backend, query))
    after = [int(k) for k in json.loads(doc_path.read_text())["windows"]]
    assert min(before) < since.timestamp() <= min(after)


def test_a_store_that_refuses_the_kept_file_still_answers(
    backend: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """Where the figures cannot be written (here a file stands where their folder would go; a
    read-only bucket alike), the view gives the same figures and the server log says why."""
    today, _ = _store(backend)
    (Path(backend.logs.root) / CACHE_FOLDER).write_text("not a folder")
    query = WindowQuery("churn", "churn", "production", "day", today - 5 * DAY)
    same(_cached(backend, query), _uncached(backend, query))
    assert "kept window figures not saved" in caplog.text
