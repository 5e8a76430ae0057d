"""Audited writes at once from several threads (SQLite, PostgreSQL) and several processes
(PostgreSQL): the head lock chains every entry in commit order, so the chain still verifies."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings

THREADS = 6
EACH = 15


def _backend(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> LocalBackend:
    args: dict[str, Any] = {"home": tmp_path / "home", "user": "ada"}
    if kind == "postgresql":
        args["database_url"] = request.getfixturevalue("store_url_pg")
    return LocalBackend(get_settings(**args))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_threads_writing_audited_changes_at_once_leave_a_verifying_chain(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    backend = _backend(request, tmp_path, kind)
    try:
        backend.create_project("busy")

        def write(worker: int) -> None:
            for n in range(EACH):
                backend.with_actor(f"w{worker}").create_experiment("busy", f"w{worker}-{n}")

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(write, range(THREADS)))
        result = backend.verify_audit()
        assert result.ok, result.message
        assert result.entries == 1 + THREADS * EACH
        actors = {e["actor"] for e in backend.export_audit(kind="experiment")}
        assert actors == {f"w{n}" for n in range(THREADS)}
    finally:
        backend.close()


WRITER = textwrap.dedent(
    """
    import sys
    from relayml.backend import LocalBackend
    from relayml.config import get_settings
    url, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    backend = LocalBackend(get_settings(database_url=url, user=f"p{worker}", home=sys.argv[4]))
    for n in range(count):
        backend.create_experiment("busy", f"p{worker}-{n}")
    backend.close()
    """
)


def test_processes_writing_audited_changes_at_once_leave_a_verifying_chain(
    store_url_pg: str, tmp_path: Path
) -> None:
    backend = LocalBackend(get_settings(database_url=store_url_pg, home=tmp_path / "home"))
    try:
        backend.create_project("busy")
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, store_url_pg, str(n), str(EACH), str(tmp_path)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(3)
        ]
        with ThreadPoolExecutor(2) as pool:  # and two threads of this process meanwhile
            list(
                pool.map(
                    lambda t: [backend.create_experiment("busy", f"t{t}-{n}") for n in range(EACH)],
                    range(2),
                )
            )
        for worker in workers:
            _, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
        result = backend.verify_audit()
        assert result.ok, result.message
        assert result.entries == 1 + 5 * EACH
    finally:
        backend.close()
