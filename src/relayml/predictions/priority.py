"""A thread's CPU priority: the idle class a log's writer runs in between requests."""

from __future__ import annotations

import os

__all__ = ["set_idle"]


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
