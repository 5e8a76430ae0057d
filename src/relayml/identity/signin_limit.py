"""A limit on failed password sign-ins, per user name and per client address.

In-process: each server process (each uvicorn worker) counts alone, so with N workers an
attacker gets up to N times the allowance; the limit slows guessing, Argon2 makes each guess
expensive, and an administrator can disable an account under attack (`relay users disable`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SignInLimiter"]

_MAX_KEYS = 100_000  # forget the oldest keys beyond this many (a flood of made-up names)


class SignInLimiter:
    """At most ``max_failures`` failed sign-ins per key within ``window`` seconds."""

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, user: str, address: str) -> int | None:
        """Seconds to wait before the next attempt may be tried, or None when it may be now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in (f"user:{user}", f"address:{address}"):
                times = self._recent(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[-self.max_failures] + self.window - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, user: str, address: str) -> None:
        """Count one failed attempt against the user name and the address."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > _MAX_KEYS:
                for key in list(self._failures)[: _MAX_KEYS // 10]:
                    del self._failures[key]
            for key in (f"user:{user}", f"address:{address}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, user: str) -> None:
        """Forget the user name's failures after a successful sign-in (the address keeps its)."""
        with self._lock:
            self._failures.pop(f"user:{user}", None)
