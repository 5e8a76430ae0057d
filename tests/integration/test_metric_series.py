"""The bounded reads behind the web pages, on SQLite and PostgreSQL: metric series for charts
(tracking.series: short series whole, long ones as at most N bucket means on buckets shared by
every run, series on one step by time) and a project's newest data checks (data.datasets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.datasets import recent_checks
from relayml.data.sources import log_dataset
from relayml.domain.data import CheckOutcome
from relayml.errors import InvalidInput
from relayml.tracking.series import metric_series


@pytest.fixture
def local(store_url: str, tmp_path: Path) -> Iterator[LocalBackend]:
    backend = LocalBackend(get_settings(database_url=store_url, home=tmp_path / "h", user="ds"))
    try:
        backend.create_project("series")
        yield backend
    finally:
        backend.close()


def test_short_series_come_back_whole_and_long_ones_as_bucket_means(local: LocalBackend) -> None:
    long_run = local.create_run("series", "e", name="long").id
    short_run = local.create_run("series", "e", name="short").id
    local.log_metrics(long_run, [("loss", float(step), step, 1_000 + step) for step in range(5000)])
    local.log_metrics(short_run, [("loss", 10.0 * step, step, 2_000) for step in range(0, 50, 5)])
    local.log_metrics(short_run, [("acc", 0.5, 0, 3_000), ("acc", float("nan"), 1, 3_001)])

    whole = metric_series(local.store, [short_run], ["loss", "acc", "missing"], max_points=100)
    assert [s.key for s in whole] == ["loss", "acc"]  # a metric nobody logged is left out
    loss, acc = whole
    assert not loss.downsampled and loss.total == 10
    assert loss.points[short_run] == [(s, 10.0 * s) for s in range(0, 50, 5)]
    assert acc.points[short_run] == [(0, 0.5), (1, None)]  # NaN is a gap, not a number

    (both,) = metric_series(local.store, [long_run, short_run], ["loss"], max_points=100)
    assert both.downsampled and both.total == 5010 and not both.by_time
    long_points = both.points[long_run]
    assert len(long_points) == 100  # steps 0..4999 in buckets of 50
    assert long_points[0] == (0, pytest.approx(24.5)) and long_points[-1][0] == 4950
    assert long_points[-1][1] == pytest.approx(sum(range(4950, 5000)) / 50)
    xs, values = both.aligned()
    assert xs == [b * 50 for b in range(100)]  # the short run's buckets fall on the same x
    assert values[short_run][0] == pytest.approx(sum(10.0 * s for s in range(0, 50, 5)) / 10)
    assert values[short_run][1] is None


def test_a_series_logged_on_one_step_is_bucketed_by_time(local: LocalBackend) -> None:
    run = local.create_run("series", "e").id
    local.log_metrics(run, [("cpu", float(i % 7), 0, 10_000 + i * 10) for i in range(3000)])
    (cpu,) = metric_series(local.store, [run], ["cpu"], max_points=500)
    assert cpu.by_time and cpu.downsampled
    assert 2 <= len(cpu.points[run]) <= 500
    assert cpu.points[run][0][0] == 10_000


def test_bad_bounds_are_refused(local: LocalBackend) -> None:
    with pytest.raises(InvalidInput, match="max_points"):
        metric_series(local.store, ["x"], ["k"], max_points=1)
    with pytest.raises(InvalidInput, match="at most 50 runs"):
        metric_series(local.store, [str(i) for i in range(51)], ["k"])
    assert metric_series(local.store, [], ["k"]) == []


def test_the_newest_checks_of_a_project_over_its_datasets(local: LocalBackend) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    log_dataset(local, "series", "left", frame)
    log_dataset(local, "series", "right", frame.assign(b=1))
    good = CheckOutcome(name="a: not null", column="a", passed=True)
    bad = CheckOutcome(name="a: unique", column="a", passed=False, failing_rows=2)
    first = local.record_data_check("series", "left@1", {"checks": []}, [good, bad])
    second = local.record_data_check("series", "right@1", {"checks": []}, [good])
    third = local.record_data_check("series", "right@1", {"checks": []}, [bad])
    newest = recent_checks(local.store, "series", limit=2)
    assert [(r.id, r.dataset, r.version) for r in newest] == [
        (third.id, "right", 1),
        (second.id, "right", 1),
    ]
    failed = recent_checks(local.store, "series", failed_only=True)
    assert [r.id for r in failed] == [third.id, first.id] and not any(r.passed for r in failed)
    assert failed[1].outcomes[1].failing_rows == 2
    local.create_project("other")
    assert recent_checks(local.store, "other") == []
    with pytest.raises(InvalidInput, match="limit"):
        recent_checks(local.store, "series", limit=0)
