"""Several feature sets joined at once, one per thread: the work of a join is numpy's sorts,
binary searches and gathers, which release the GIL, so the machine's cores share it. Each set's
result is its own (no thread writes into another's arrays) and they come back in the sets'
order: the same frame, column for column, as joining the sets one after the other."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["cores", "in_threads"]

T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def in_threads(work: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """work(item) for each item, on up to `workers` threads (default: the cores), the results in
    the items' order; an error is raised as the items one after the other would raise it first."""
    count = min(len(items), workers or cores())
    if count <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(count, thread_name_prefix="relay-features") as pool:
        return list(pool.map(work, items))
