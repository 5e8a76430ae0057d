"""Starting the pipeline runs of firings: `relay pipelines run` in a subprocess of its own.

The subprocess gets this process's store, artifacts and executor settings; with RELAY_EXECUTOR
a dask:// URL its steps go to the Dask cluster, through the same executor as any run. It tells
the firing its pipeline run and how it ended (`--firing`); its output goes to a log file under
$RELAY_HOME/schedules. A process that dies before saying so is found by ``reap``.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from relayml.config import Settings, child_environment
from relayml.domain.schedules import Firing, Schedule

__all__ = ["ProcessLauncher"]

log = logging.getLogger("relayml.schedules")


class ProcessLauncher:
    """Starts each firing's `relay pipelines run` and keeps the processes until they end."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.home.absolute() / "schedules"
        self.settings = settings
        self._processes: dict[int, tuple[subprocess.Popen[bytes], str]] = {}
        self._lock = threading.Lock()

    def output_for(self, schedule: Schedule, key: str) -> str:
        """The log file of a firing's run: $RELAY_HOME/schedules/<project>.<name>.<key>.log."""
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{schedule.project}.{schedule.name}.{key}")
        return str(self.folder / f"{name}.log")

    @staticmethod
    def command(schedule: Schedule, firing: Firing) -> list[str]:
        """The command line of a firing's run."""
        argv = [sys.executable, "-m", "relayml.cli", "pipelines", "run", schedule.pipeline]
        for key, value in schedule.params.items():
            argv += ["--param", f"{key}={value}"]
        return [*argv, "--project", schedule.project, "--firing", str(firing.id), "--json"]

    def start(self, schedule: Schedule, firing: Firing) -> None:
        """Start the run in the background, from the folder the schedule was added in."""
        output = Path(firing.log or self.output_for(schedule, str(firing.id)))
        output.parent.mkdir(parents=True, exist_ok=True)
        workdir = schedule.workdir if schedule.workdir and Path(schedule.workdir).is_dir() else None
        env = child_environment(self.settings, RELAY_USER=schedule.created_by)
        with open(output, "ab") as sink:
            process = subprocess.Popen(
                self.command(schedule, firing),
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with self._lock:
            self._processes[firing.id] = (process, str(output))
        log.info("firing %d: started %s (pid %d)", firing.id, schedule.pipeline, process.pid)

    def reap(self) -> list[tuple[int, int, str]]:
        """(firing id, exit code, log file) of each started run that has ended since last asked."""
        ended = []
        with self._lock:
            for firing_id, (process, output) in list(self._processes.items()):
                code = process.poll()
                if code is not None:
                    del self._processes[firing_id]
                    ended.append((firing_id, code, output))
        return ended

    def wait(self, timeout: float | None = None) -> None:
        """Wait until every started run has ended (or the timeout passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            processes = [p for p, _ in self._processes.values()]
        for process in processes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                process.wait(left)
            except subprocess.TimeoutExpired:
                return
