"""Work of a point-in-time join spread over the machine's cores: the feature sets' sources read
or prepared at once, then each join's chunks of entity rows searched and gathered, and a frame's
columns taken, on a small thread pool. That work is numpy's sorts, binary searches and gathers,
which release the GIL. Each piece of work writes only its own rows or arrays and the results
come back in order: the same frame, value for value, as doing it one piece after the other."""

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
