"""One run loads the same through its prebuilt single-run statements as through the set queries
of a search page (tracking/loading.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.entities import Run
from relayml.errors import NotFound
from relayml.tracking.loading import load_run, load_runs


@pytest.fixture
def local(store_url: str, tmp_path: Path) -> Iterator[LocalBackend]:
    backend = LocalBackend(get_settings(home=tmp_path / "home", database_url=store_url))
    try:
        backend.create_project("loading")
        yield backend
    finally:
        backend.close()


def _same(a: Run, b: Run) -> bool:
    """Equal, NaN metrics included (NaN != NaN), dicts in any order."""

    def plain(run: Run) -> dict[str, object]:
        fields = run.model_dump()
        fields["metrics"] = {k: repr(v) for k, v in run.metrics.items()}
        return fields

    return plain(a) == plain(b)


def test_one_run_loads_like_a_page_of_runs(local: LocalBackend) -> None:
    system = {"git": {"commit": "abc"}, "python": "3.11", "packages": ["a", "b"]}
    full = local.create_run("loading", "e1", name="full", tags={"t": "1"}, system=system)
    local.log_params(full.id, {"lr": 0.1, "depth": "3"})
    local.log_metrics(full.id, [("loss", 0.5, 0, 1), ("loss", 0.25, 1, 2), ("nan", math.nan, 0, 3)])
    local.set_tags(full.id, {"t": "2", "u": "x"})
    local.end_run(
        full.id, "FAILED", error="boom", end_time=int(full.start_time.timestamp() * 1000) + 5
    )
    bare = local.create_run("loading", "e2", name="bare")
    gone = local.create_run("loading", "e1", name="gone")
    local.delete_run(gone.id)
    ids = [full.id, bare.id, gone.id]
    with local.store.read() as conn:
        page = load_runs(conn, ids)
        singles = [load_run(conn, i) for i in ids]
        assert load_run(conn, "0" * 32) is None
        assert load_runs(conn, ["0" * 32]) == []
    assert [r.id for r in page] == ids
    for many, one in zip(page, singles, strict=True):
        assert one is not None and _same(one, many), (one, many)
        assert _same(local.get_run(many.id), many)
    got = singles[0]
    assert got is not None
    assert got.system == system and got.params == {"lr": "0.1", "depth": "3"}
    assert got.tags == {"t": "2", "u": "x"} and got.status.value == "FAILED"
    assert got.metrics["loss"] == 0.25 and math.isnan(got.metrics["nan"])
    assert got.error == "boom" and got.wall_time is not None and got.end_time is not None
    assert singles[2] is not None and singles[2].deleted_at is not None
    with pytest.raises(NotFound, match="run 'nope' does not exist"):
        local.get_run("nope")
