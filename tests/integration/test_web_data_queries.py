"""The runs pages read a bounded amount, on SQLite and PostgreSQL: the SQL statements a page runs
do not grow with the runs the project holds (a page of runs, the runs compared, series already
downsampled), so the pages stay as fast at 100,000 runs as at 20 (see docs/web-data.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from relayml.api.app import create_app
from relayml.backend import LocalBackend
from relayml.config import get_settings

PROJECT = "counted"


@pytest.fixture
def site(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, LocalBackend]]:
    settings = get_settings(
        database_url=store_url, home=tmp_path / "h", user="ds", monitor_interval=0
    )
    backend = LocalBackend(settings)
    backend.create_project(PROJECT)
    try:
        with TestClient(create_app(backend, auth=False)) as client:
            yield client, backend
    finally:
        backend.close()


def _add_runs(backend: LocalBackend, count: int, start: int) -> list[str]:
    ids = []
    for i in range(start, start + count):
        run = backend.create_run(PROJECT, "sweep", name=f"r{i}")
        points = [("auc", i / 1000, s, 1_700_000_000_000 + s) for s in range(3)]
        backend.end_run(run.id, "FINISHED", params={"lr": str(i)}, points=points)
        ids.append(run.id)
    return ids


def _statements(client: TestClient, backend: LocalBackend, path: str) -> int:
    seen: list[str] = []

    def count(*_args: Any) -> None:
        seen.append("")

    event.listen(backend.store.engine, "before_cursor_execute", count)
    try:
        answer = client.get(path)
    finally:
        event.remove(backend.store.engine, "before_cursor_execute", count)
    assert answer.status_code == 200, answer.text[:500]
    return len(seen)


def test_the_runs_pages_run_no_more_statements_at_220_runs_than_at_20(
    site: tuple[TestClient, LocalBackend],
) -> None:
    client, backend = site
    ids = _add_runs(backend, 20, 0)
    compare = f"/projects/{PROJECT}/runs/compare?ids={ids[0]},{ids[1]},{ids[2]}"
    pages = [
        f"/projects/{PROJECT}/runs?size=25",
        f"/projects/{PROJECT}/runs?size=25&order=metrics.auc&desc=1&q=metrics.auc+%3E+0",
        f"/projects/{PROJECT}/runs?size=25&order=params.lr",
        compare,
        f"/projects/{PROJECT}/runs/{ids[0]}",
    ]
    before = [_statements(client, backend, p) for p in pages]
    _add_runs(backend, 200, 20)
    after = [_statements(client, backend, p) for p in pages]
    # never more (a metric order may skip its second phase once a page fills from the first)
    assert all(a <= b for a, b in zip(after, before, strict=True)), (before, after)
    assert max(after) <= 40, after  # a handful per page, whatever the project holds
    listed = client.get(pages[0]).text
    assert listed.count('name="ids"') == 25  # one page, not all 220
