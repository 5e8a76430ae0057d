"""A thread's CPU priority: the idle class a log's writer runs in between requests, and the
watchdog that raises an idle writer whose flush is late while nothing else would notice."""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from typing import Protocol

__all__ = ["WATCH_EVERY", "IdleThread", "Late", "forget", "set_idle", "watch"]

WATCH_EVERY = 0.25  # seconds between the watchdog's looks
# An idle-priority flush is late this many ms per interval after the previous one started: due
# at one interval, late half an interval after, so a starved log loses at most about 1.5
# intervals of rows to a SIGKILL.
LATE_MS = 1_500


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


class IdleThread:
    """A log writer's thread at idle priority: when its flush is late, and its raises back to
    normal priority. Linux allows a raise only with CAP_SYS_NICE (or an RLIMIT_NICE of 20);
    once refused, ``unraisable`` says so and no raise is asked again. The caller holds the
    log's lock around everything but ``enter``."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.tid: int | None = None  # the thread's native id, once it runs idle
        self.raised = False
        self.unraisable = False
        self.overdue_ms = math.inf  # epoch ms after which a flush that has not started is late

    def enter(self) -> bool:
        """Put the calling thread at idle priority; False where that is not possible."""
        if not set_idle(threading.get_native_id(), True):
            return False
        self.restart_clock()
        self.tid = threading.get_native_id()
        return True

    def restart_clock(self) -> None:
        """A flush starts (or the watchdog wrote one): the next is late LATE_MS per interval on."""
        self.overdue_ms = time.time_ns() // 1_000_000 + LATE_MS * self.interval

    def is_late(self, now_ms: int) -> bool:
        return self.tid is not None and now_ms > self.overdue_ms

    def raise_(self) -> bool:
        """Back to normal priority; False if refused (then never asked again) or not idle."""
        if self.tid is None or self.raised or self.unraisable:
            return False
        if set_idle(self.tid, False):
            self.raised = True
            return True
        self.unraisable = True
        return False

    def lower(self) -> None:
        """Idle again, once the thread has caught up (called from the thread itself)."""
        self.raised = False
        set_idle(threading.get_native_id(), True)


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
