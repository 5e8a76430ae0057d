"""A thread's CPU priority: the idle class a log's writer runs in between requests, and the
watchdog that raises an idle writer whose flush is late while nothing else would notice."""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Protocol

__all__ = ["WATCH_EVERY", "Late", "forget", "set_idle", "watch"]

WATCH_EVERY = 0.25  # seconds between the watchdog's looks


def set_idle(tid: int, idle: bool) -> bool:
    """Put one thread at idle priority (Linux SCHED_IDLE) or back at the normal one; False
    where the system has no such policy or refuses it."""
    policy = getattr(os, "SCHED_IDLE" if idle else "SCHED_OTHER", None)
    if policy is None:
        return False
    try:
        os.sched_setscheduler(tid, policy, os.sched_param(0))
    except OSError:
        return False
    return True


class Late(Protocol):
    def raise_if_late(self, now_ms: int) -> None: ...


_watched: weakref.WeakSet[Late] = weakref.WeakSet()
_started = threading.Lock()
_thread: list[threading.Thread] = []


def watch(item: Late) -> None:
    """Ask `item` every WATCH_EVERY seconds, from a thread at normal priority, whether it is
    late. An idle-priority writer on a machine that other processes keep busy may get no CPU for
    seconds; the requests that would raise it (rows piling up) may have stopped. Items are held
    weakly: one that is gone is no longer asked."""
    with _started:
        _watched.add(item)
        if not _thread:
            thread = threading.Thread(target=_loop, name="relay-log-watch", daemon=True)
            _thread.append(thread)
            thread.start()


def forget(item: Late) -> None:
    with _started:
        _watched.discard(item)


def _loop() -> None:
    while True:
        time.sleep(WATCH_EVERY)
        now_ms = time.time_ns() // 1_000_000
        with _started:
            items = list(_watched)
        for item in items:
            item.raise_if_late(now_ms)
