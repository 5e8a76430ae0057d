"""The scheduler inside `relay server`: on a timer, compacts closed days of every project's logs
and evaluates its alert rules."""

from __future__ import annotations

import logging
import threading

from relayml.domain.ports import Backend

__all__ = ["MonitorScheduler"]

log = logging.getLogger("relayml.alerts")


class MonitorScheduler:
    """A daemon thread running each project's enabled alert rules every `interval` seconds."""

    def __init__(self, backend: Backend, interval: float) -> None:
        self.backend = backend
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="relay-monitors", daemon=True)

    def start(self) -> None:
        """Begin the timer (the first evaluation comes after one interval)."""
        self._thread.start()

    def run_once(self) -> int:
        """Evaluate every project that has enabled rules; returns how many were evaluated."""
        evaluated = 0
        for project in self.backend.list_projects():
            try:
                self.backend.compact_logs(project.name)
            except Exception:
                log.exception("compacting the logs of %s failed", project.name)
            try:
                if not any(r.enabled for r in self.backend.list_alert_rules(project.name)):
                    continue
                self.backend.run_monitors(project.name)
                evaluated += 1
            except Exception:
                log.exception("monitoring project %s failed", project.name)
        self.runs += 1
        return evaluated

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def stop(self) -> None:
        """Stop the timer and wait for an evaluation in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
