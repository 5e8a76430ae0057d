"""16 processes logging into one store at once: every point arrives."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relayml.store import Store
from relayml.store.schema import metrics

PROCESSES = 16
POINTS = 10_000


def _log_points(database_url: str, home: str, worker: int) -> None:
    import relayml as relay

    relay.init(project="concurrent", home=home, database_url=database_url, user=f"w{worker}")
    with relay.start_run(experiment="load", name=f"worker-{worker}") as run:
        for i in range(POINTS):
            run.log_metric("value", float(i), step=i)


@pytest.mark.slow
def test_sixteen_processes_lose_no_point(store_url: str, tmp_path: Path) -> None:
    # No set-up: the workers race to create the project and the experiment, too.
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_log_points, args=(store_url, str(tmp_path), w))
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    store = Store(store_url)
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(metrics)).scalar()
        per_run = conn.execute(
            select(func.count(), func.count(func.distinct(metrics.c.step))).group_by(
                metrics.c.run_id
            )
        ).all()
    store.dispose()
    assert total == PROCESSES * POINTS
    assert sorted(per_run) == [(POINTS, POINTS)] * PROCESSES
