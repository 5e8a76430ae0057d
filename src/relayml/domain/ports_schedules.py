"""The schedules part of the Backend port: pipelines run on cron times or on events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from relayml.domain.schedules import Firing, Schedule, ScheduleDetail

__all__ = ["SchedulesPort"]


class SchedulesPort(Protocol):
    """Operations of relayml.domain.ports.Backend for schedules. Same conventions as Backend."""

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
        """Create a schedule (cron, or on 'dataset:X'...); InvalidInput, NotFound, Conflict."""

    def list_schedules(self, project: str) -> list[Schedule]:
        """A project's schedules by name; NotFound (project)."""

    def get_schedule(self, project: str, name: str) -> ScheduleDetail:
        """A schedule with its newest firings; NotFound."""

    def pause_schedule(self, project: str, name: str) -> Schedule:
        """Stop a schedule from firing (audited); NotFound, Conflict (already paused)."""

    def resume_schedule(self, project: str, name: str) -> Schedule:
        """Let a schedule fire again from now on (audited); NotFound, Conflict (not paused)."""

    def remove_schedule(self, project: str, name: str) -> Schedule:
        """Delete a schedule and its firings (audited); NotFound."""

    def update_firing(
        self,
        project: str,
        firing_id: int,
        status: str,
        *,
        pipeline_run: str | None = None,
        error: str | None = None,
    ) -> Firing:
        """Record a firing's run: running, finished or failed; NotFound, Conflict, InvalidInput."""

    def tick_schedules(self, project: str | None = None, *, wait: bool = False) -> list[Firing]:
        """Fire due schedules once (a project's, or all) and start their runs; NotFound."""
