"""ParquetLog.append_built: rows queued as the caller holds them, made into columns in bulk by the
writer's thread (what the model server does per request), with the log's guarantees intact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relayml.errors import InvalidInput
from relayml.predictions import ParquetLog, priority, read_log
from relayml.predictions.priority import WATCH_EVERY

PART = "project=churn/deployment=churn-production"
MONDAY = int(datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000


class Recorder:
    """A build of (timestamp, id, score) items that notes the size of every call it gets."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, items: Sequence[tuple[int, str, float]]) -> dict[str, list[Any]]:
        self.calls.append(len(items))
        if any(item[1] == "bad" for item in items):
            raise ValueError("a bad item")
        return {
            "timestamp": [item[0] for item in items],
            "id": [item[1] for item in items],
            "score": [item[2] for item in items],
        }


def test_queued_items_are_built_in_one_call_and_read_back_as_appended(tmp_path: Path) -> None:
    build = Recorder()
    with ParquetLog(str(tmp_path / "log"), flush_interval=60) as log:
        for i in range(300):  # two days, one build: one call, then one file per day
            assert log.append_built(PART, build, (MONDAY + (i % 2) * DAY, f"p{i}", i / 300), 1)
        log.append(PART, {"timestamp": [MONDAY], "id": ["plain"], "score": [1.0]})
        log.flush()
        assert build.calls == [300]
        assert log.stats["rows_written"] == 301 and log.stats["rows_buffered"] == 0
    table = read_log(str(tmp_path / "log"))
    rows = {r["id"]: (r["timestamp"], r["score"], r["date"]) for r in table.to_pylist()}
    assert len(rows) == table.num_rows == 301
    for i in range(300):
        day = "2026-01-05" if i % 2 == 0 else "2026-01-06"
        assert rows[f"p{i}"] == (MONDAY + (i % 2) * DAY, i / 300, day)
    assert len(list((tmp_path / "log").rglob("*.parquet"))) == 2  # built and plain rows together


def test_a_failing_build_drops_only_the_items_it_cannot_build(tmp_path: Path) -> None:
    build = Recorder()
    with ParquetLog(str(tmp_path / "log"), flush_interval=60) as log:
        for name in ("a", "bad", "c"):
            log.append_built(PART, build, (MONDAY, name, 0.5), 1)
        with pytest.raises(InvalidInput, match=r"1 rows for .* were dropped: not storable"):
            log.flush()
        assert build.calls == [3, 1, 1, 1]  # all at once, then one by one
        assert log.stats["rows_dropped"] == 1 and log.stats["rows_written"] == 2
        assert log.stats["rows_buffered"] == 0
    assert read_log(str(tmp_path / "log"))["id"].to_pylist() == ["a", "c"]


def test_built_rows_from_many_threads_are_written_once_by_close(tmp_path: Path) -> None:
    build = Recorder()
    log = ParquetLog(str(tmp_path / "log"), flush_interval=0.05, flush_rows=300)

    def worker(t: int) -> None:
        for i in range(250):
            assert log.append_built(PART, build, (MONDAY, f"{t}-{i}", 0.25), 1)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()  # what the timed flushes left is written now
    ids = read_log(str(tmp_path / "log"), columns=["id"])["id"].to_pylist()
    assert sorted(ids) == sorted(f"{t}-{i}" for t in range(6) for i in range(250))
    assert sum(build.calls) == 1500 and log.stats["rows_buffered"] == 0


def test_a_full_buffer_drops_built_rows_too(tmp_path: Path) -> None:
    build = Recorder()
    with ParquetLog(str(tmp_path / "log"), flush_interval=60, max_rows=1) as log:
        assert log.append_built(PART, build, (MONDAY, "a", 0.0), 1)
        assert not log.append_built(PART, build, (MONDAY, "b", 0.0), 1)
        assert log.stats["rows_dropped"] == 1 and log.stats["rows_buffered"] == 1
    assert read_log(str(tmp_path / "log"))["id"].to_pylist() == ["a"]
    with pytest.raises(InvalidInput, match="closed"):
        log.append_built(PART, build, (MONDAY, "c", 0.0), 1)


needs_idle = pytest.mark.skipif(
    not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's; elsewhere the flag does nothing"
)


def _policy_when_idle(log: ParquetLog) -> int | None:
    """The writer thread's scheduling policy, once the thread has set it."""
    deadline = time.monotonic() + 5
    while log._idle.tid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return None if log._idle.tid is None else os.sched_getscheduler(log._idle.tid)


@needs_idle
def test_a_low_priority_writer_runs_idle_and_is_raised_when_rows_pile_up(tmp_path: Path) -> None:
    build = Recorder()
    log = ParquetLog(str(tmp_path), flush_interval=60, flush_rows=50, low_priority=True)
    try:
        assert _policy_when_idle(log) == os.SCHED_IDLE
        for i in range(49):
            log.append_built(PART, build, (MONDAY + i, f"p{i}", 0.5), 1)
        assert log.stats["priority_raises"] == 0
        log.append_built(PART, build, (MONDAY + 49, "p49", 0.5), 1)  # flush_rows reached
        deadline = time.monotonic() + 10
        while log.stats["rows_written"] < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = log.stats
        assert stats["rows_written"] == 50 and stats["priority_raises"] == 1
        while os.sched_getscheduler(log._idle.tid) != os.SCHED_IDLE:  # type: ignore[arg-type]
            assert time.monotonic() < deadline, "the writer stayed at normal priority"
            time.sleep(0.01)
    finally:
        log.close()
    assert len(read_log(str(tmp_path), PART)) == 50


@needs_idle
def test_a_writer_keeps_normal_priority_unless_asked(tmp_path: Path) -> None:
    with ParquetLog(str(tmp_path), flush_interval=60) as log:
        log.append_built(PART, Recorder(), (MONDAY, "p0", 0.5), 1)
        time.sleep(0.05)
        assert log._idle.tid is None
        tids = [t.native_id for t in threading.enumerate() if t.name == "relay-log"]
        assert tids and os.sched_getscheduler(tids[0]) == os.SCHED_OTHER


@needs_idle
def test_a_low_priority_writer_is_raised_when_its_flush_is_late(tmp_path: Path) -> None:
    # a server whose core is never idle: the idle-priority thread has not started the flush
    # that was due an interval ago (set here, as a saturated core would leave it)
    log = ParquetLog(str(tmp_path), flush_interval=60, low_priority=True)
    try:
        assert _policy_when_idle(log) == os.SCHED_IDLE
        log.append_built(PART, Recorder(), (MONDAY, "p0", 0.5), 1)
        assert log.stats["priority_raises"] == 0
        log._idle.overdue_ms = 0
        log.append_built(PART, Recorder(), (MONDAY + 1, "p1", 0.5), 1)
        assert log.stats["priority_raises"] == 1
        assert os.sched_getscheduler(log._idle.tid) == os.SCHED_OTHER  # type: ignore[arg-type]
    finally:
        log.close()
    assert len(read_log(str(tmp_path), PART)) == 2


@needs_idle
def test_a_late_idle_writer_is_raised_by_the_watchdog_without_new_rows(tmp_path: Path) -> None:
    # the last request has come and gone, other processes keep the machine busy: no append
    # will notice that the idle-priority thread has not flushed; the watchdog does
    log = ParquetLog(str(tmp_path), flush_interval=60, low_priority=True)
    try:
        assert _policy_when_idle(log) == os.SCHED_IDLE
        log.append_built(PART, Recorder(), (MONDAY, "p0", 0.5), 1)
        time.sleep(3 * WATCH_EVERY)
        assert log.stats["priority_raises"] == 0, "not late: left idle"
        log._idle.overdue_ms = 0  # as a starved thread would leave it
        deadline = time.monotonic() + 10
        while log.stats["priority_raises"] == 0:
            assert time.monotonic() < deadline, "nothing raised the late writer"
            time.sleep(0.01)
        assert os.sched_getscheduler(log._idle.tid) == os.SCHED_OTHER  # type: ignore[arg-type]
        time.sleep(3 * WATCH_EVERY)
        assert log.stats["priority_raises"] == 1, "raised once, not on every look"
    finally:
        log.close()
    assert len(read_log(str(tmp_path), PART)) == 1


# A server run by an ordinary user: Linux refuses to take a thread back out of the idle class
# without CAP_SYS_NICE. Run as root, the script drops that capability with util-linux's setpriv.
_UNPRIVILEGED_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, threading, time
    from relayml.predictions import ParquetLog
    log = ParquetLog(sys.argv[1], flush_interval=60, low_priority=True)
    while log._idle.tid is None:
        time.sleep(0.01)
    tid = log._idle.tid
    for i in range(5):
        log.append_built(sys.argv[2], lambda items: {"id": [it for it in items]}, f"p{i}", 1)
    log._idle.overdue_ms = 0  # as a starved thread would leave it
    deadline = time.monotonic() + 10
    while log.stats["rows_written"] < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    print(json.dumps({**log.stats, "policy": os.sched_getscheduler(tid)}))
    log.close()
    """
)


@needs_idle
def test_without_the_right_to_raise_a_late_idle_writer_is_flushed_by_the_watchdog(
    tmp_path: Path,
) -> None:
    argv = [sys.executable, "-c", _UNPRIVILEGED_SCRIPT, str(tmp_path), PART]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "util-linux's setpriv drops root's CAP_SYS_NICE for this test"
        argv = [setpriv, "--bounding-set=-sys_nice", "--inh-caps=-sys_nice", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    assert stats["rows_written"] == 5, "the late rows were left waiting"
    assert stats["late_flushes"] >= 1 and stats["priority_raises"] == 0
    assert stats["policy"] == os.SCHED_IDLE  # refused, so still idle: the watchdog wrote them
    assert sorted(read_log(str(tmp_path), PART)["id"].to_pylist()) == [f"p{i}" for i in range(5)]


@needs_idle
def test_a_closed_writer_is_no_longer_watched(tmp_path: Path) -> None:
    log = ParquetLog(str(tmp_path), flush_interval=60, low_priority=True)
    assert _policy_when_idle(log) == os.SCHED_IDLE
    assert log in priority._watched
    log.close()
    assert log not in priority._watched
