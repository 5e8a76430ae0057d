"""Bad metric points are refused where they are logged and poison nothing else (issue #11)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import relayml as relay
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.entities import RunStatus
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.store import Store
from relayml.tracking import runs as run_service
from relayml.tracking.buffer import MetricBuffer
from tests.integration.test_sdk import sdk

__all__ = ["sdk"]

BAD_POINTS = [
    ("bad", 1.0, 2**63, 1_700_000_000_000),
    ("bad", 1.0, -(2**63) - 1, 1_700_000_000_000),
    ("bad", 1.0, 0, 2**63),
    ("bad", 1.0, 0, -5),
]


@pytest.mark.parametrize("point", BAD_POINTS)
def test_a_point_out_of_range_is_refused_and_the_run_keeps_the_others(
    backend: Backend, project: str, point: tuple[str, float, int, int]
) -> None:
    run = backend.create_run(project, "e")
    backend.log_metrics(run.id, [("good", 1.0, 0, 1_700_000_000_000)])
    with pytest.raises(InvalidInput, match="'bad'"):
        backend.log_metrics(run.id, [("good", 2.0, 1, 1_700_000_000_001), point])
    backend.log_metrics(run.id, [("good", 3.0, 2, 1_700_000_000_002)])
    backend.end_run(run.id, "FINISHED")
    stored = backend.get_run(run.id)
    assert stored.metrics == {"good": 3.0} and stored.status is RunStatus.FINISHED
    assert [p.value for p in backend.get_metric_history(run.id, "good")] == [1.0, 3.0]


def test_the_store_refuses_an_overflow_with_a_message(store_url: str) -> None:
    """Even past the checks (service called directly), an overflow is InvalidInput, no crash."""
    store = Store(store_url)
    try:
        backend = LocalBackend(get_settings(database_url=store_url, user="a"), store=store)
        backend.create_project("p")
        run = backend.create_run("p", "e")
        with pytest.raises(InvalidInput, match="out of range"):
            run_service.log_metrics(store, "a", run.id, [("bad", 1.0, 2**63, 1)])
        run_service.log_metrics(store, "a", run.id, [("good", 1.0, 0, 1)])
        assert backend.get_run(run.id).metrics == {"good": 1.0}
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"step": 2**63}, "64-bit"),
        ({"step": -(2**63) - 1}, "64-bit"),
        ({"step": 1.5}, "integer"),
        ({"step": 0, "timestamp": 10**18}, "out of range"),
        ({"step": 0, "timestamp": -1}, "out of range"),
    ],
)
def test_the_sdk_refuses_a_bad_step_or_time_at_the_call(
    sdk: str, kwargs: dict[str, int], words: str
) -> None:
    with relay.start_run() as run:
        run.log_metric("good", 1.0, step=0)
        with pytest.raises(InvalidInput, match=words):
            run.log_metric("good", 1.0, **kwargs)
        with pytest.raises(InvalidInput, match=words):
            run.log_metrics({"other": 1.0}, **kwargs)
        with pytest.raises(InvalidInput, match="number"):
            run.log_metric("good", "high", step=1)  # type: ignore[arg-type]
        run.log_metric("good", math.inf, step=1)
        run.flush()
        assert relay.get_run(run.id).metrics == {"good": math.inf}
    stored = relay.get_run(run.id)
    assert stored.status is RunStatus.FINISHED and stored.metrics == {"good": math.inf}


def test_a_batch_with_a_bad_point_keeps_the_good_ones(tmp_path: Path) -> None:
    """The background writer splits a refused batch: only the bad point is lost, and said so."""
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="a"))
    buffer = MetricBuffer(backend, interval=60, batch_size=10_000)
    try:
        backend.create_project("p")
        run = backend.create_run("p", "e")
        rows = [("good", float(i), i, 1_700_000_000_000 + i) for i in range(10)]
        buffer.add(run.id, [*rows[:5], ("bad", 1.0, 2**63, 1), *rows[5:]])
        with pytest.raises(InvalidInput, match="'bad'"):
            buffer.flush(run.id)
        assert len(backend.get_metric_history(run.id, "good")) == 10
        buffer.add(run.id, [("good", 99.0, 99, 1_700_000_000_099)])
        buffer.flush(run.id)  # nothing left over from the refused point
        params, points = buffer.drain(run.id)
        backend.end_run(run.id, "FINISHED", params=params, points=points)
        assert backend.get_run(run.id).metrics == {"good": 99.0}
    finally:
        buffer.close()
        backend.close()
