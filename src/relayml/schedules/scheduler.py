"""The schedules' timer inside `relay server`: every RELAY_SCHEDULE_INTERVAL seconds, one tick
(relayml.schedules.tick) over every project. Replicas may each run one: a firing is claimed in
the database, so each trigger fires once."""

from __future__ import annotations

import logging
import threading

from relayml.domain.ports import Backend

__all__ = ["PipelineScheduler"]

log = logging.getLogger("relayml.schedules")


class PipelineScheduler:
    """A daemon thread ticking the schedules every `interval` seconds."""

    def __init__(self, backend: Backend, interval: float) -> None:
        self.backend = backend
        self.interval = interval
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="relay-schedules", daemon=True)

    def start(self) -> None:
        """Begin the timer (the first tick comes after one interval)."""
        self._thread.start()

    def run_once(self) -> int:
        """Tick once; returns how many schedules fired."""
        try:
            fired = len(self.backend.tick_schedules())
        except Exception:
            log.exception("ticking the schedules failed")
            fired = 0
        self.ticks += 1
        return fired

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def stop(self) -> None:
        """Stop the timer and wait for a tick in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
