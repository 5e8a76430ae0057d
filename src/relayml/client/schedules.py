"""The schedule operations of HttpBackend: the same calls as LocalScheduleOps, over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from relayml.domain.schedules import Firing, Schedule, ScheduleDetail

__all__ = ["HttpScheduleOps"]


def _q(part: str) -> str:
    return quote(part, safe="")


class HttpScheduleOps:
    """Schedules and their firings, kept (and fired) by a relay server."""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def add_schedule(
        self,
        project: str,
        name: str,
        pipeline: str,
        *,
        cron: str | None = None,
        on: str | None = None,
        params: Mapping[str, str] | None = None,
        workdir: str | None = None,
    ) -> Schedule:
        """Create a schedule that runs a pipeline on a cron time or an event."""
        body = {
            "name": name,
            "pipeline": pipeline,
            "cron": cron,
            "on": on,
            "params": dict(params or {}),
            "workdir": workdir,
        }
        found: Schedule = self._json(
            "POST", f"/projects/{_q(project)}/schedules", Schedule, json=body
        )
        return found

    def list_schedules(self, project: str) -> list[Schedule]:
        """A project's schedules."""
        found: list[Schedule] = self._json(
            "GET", f"/projects/{_q(project)}/schedules", list[Schedule]
        )
        return found

    def get_schedule(self, project: str, name: str) -> ScheduleDetail:
        """A schedule with its newest firings."""
        path = f"/projects/{_q(project)}/schedules/{_q(name)}"
        found: ScheduleDetail = self._json("GET", path, ScheduleDetail)
        return found

    def _set(self, project: str, name: str, verb: str) -> Schedule:
        path = f"/projects/{_q(project)}/schedules/{_q(name)}/{verb}"
        found: Schedule = self._json("POST", path, Schedule)
        return found

    def pause_schedule(self, project: str, name: str) -> Schedule:
        """Stop a schedule from firing."""
        return self._set(project, name, "pause")

    def resume_schedule(self, project: str, name: str) -> Schedule:
        """Let a paused schedule fire again, from now on."""
        return self._set(project, name, "resume")

    def remove_schedule(self, project: str, name: str) -> Schedule:
        """Delete a schedule and its firings."""
        path = f"/projects/{_q(project)}/schedules/{_q(name)}"
        found: Schedule = self._json("DELETE", path, Schedule)
        return found

    def update_firing(
        self,
        project: str,
        firing_id: int,
        status: str,
        *,
        pipeline_run: str | None = None,
        error: str | None = None,
    ) -> Firing:
        """Record what became of a firing's pipeline run."""
        path = f"/projects/{_q(project)}/schedule-firings/{firing_id}"
        body = {"status": status, "pipeline_run": pipeline_run, "error": error}
        found: Firing = self._json("POST", path, Firing, json=body)
        return found

    def tick_schedules(self, project: str | None = None, *, wait: bool = False) -> list[Firing]:
        """Fire every due schedule once (of a project, or all) and start their runs."""
        path = "/schedules/tick" if project is None else f"/projects/{_q(project)}/schedules/tick"
        found: list[Firing] = self._json("POST", path, list[Firing], json={"wait": wait})
        return found
