"""The schedule operations of LocalBackend (in-process, on the store)."""

from __future__ import annotations

from collections.abc import Mapping

from relayml.config import Settings
from relayml.domain.schedules import Firing, Schedule, ScheduleDetail, Trigger, parse_event
from relayml.errors import Conflict, InvalidInput
from relayml.schedules import service
from relayml.schedules.launch import ProcessLauncher
from relayml.store import Store

__all__ = ["LocalScheduleOps", "trigger_of"]


def trigger_of(cron: str | None, on: str | None) -> Trigger:
    """The trigger of exactly one of a cron expression or an event text."""
    if (cron is None) == (on is None):
        raise InvalidInput(
            "give a schedule exactly one trigger: --cron '0 6 * * *' (UTC), or --on "
            "dataset:NAME, --on alert:RULE or --on promotion:MODEL@ENV."
        )
    return Trigger(kind="cron", cron=cron) if cron is not None else parse_event(on or "")


class LocalScheduleOps:
    """Schedules and their firings, in this process; ticks start runs as subprocesses."""

    store: Store
    actor: str
    settings: Settings
    launcher: ProcessLauncher

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
        trigger = trigger_of(cron, on)
        return service.add_schedule(
            self.store, self.actor, project, name, pipeline, trigger,
            params=params, workdir=workdir,
        )  # fmt: skip

    def list_schedules(self, project: str) -> list[Schedule]:
        """A project's schedules."""
        return service.list_schedules(self.store, project)

    def get_schedule(self, project: str, name: str) -> ScheduleDetail:
        """A schedule with its newest firings."""
        return service.get_schedule(self.store, project, name)

    def pause_schedule(self, project: str, name: str) -> Schedule:
        """Stop a schedule from firing."""
        return service.set_enabled(self.store, self.actor, project, name, False)

    def resume_schedule(self, project: str, name: str) -> Schedule:
        """Let a paused schedule fire again, from now on."""
        return service.set_enabled(self.store, self.actor, project, name, True)

    def remove_schedule(self, project: str, name: str) -> Schedule:
        """Delete a schedule and its firings."""
        return service.remove_schedule(self.store, self.actor, project, name)

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
        return service.update_firing(
            self.store, self.actor, firing_id, status, project=project,
            pipeline_run=pipeline_run, error=error,
        )  # fmt: skip

    def tick_schedules(self, project: str | None = None, *, wait: bool = False) -> list[Firing]:
        """Fire every due schedule once (of a project, or all) and start their runs."""
        from relayml.schedules.tick import tick

        self._reap_firings()
        fired = tick(self.store, self.actor, self.launcher, project=project)
        if wait and fired:
            self.launcher.wait()
            self._reap_firings()
            return [self._firing_now(f) for f in fired]
        return fired

    def _firing_now(self, firing: Firing) -> Firing:
        found = service.list_firings(self.store, firing.project, firing.schedule, limit=1000)
        return next((f for f in found if f.id == firing.id), firing)

    def _reap_firings(self) -> None:
        """Mark failed the firings whose process ended without saying how its run ended."""
        for firing_id, code, output in self.launcher.reap():
            if code == 0:
                continue
            error = f"the pipeline process exited with code {code}; its output: {output}"
            try:
                service.update_firing(self.store, self.actor, firing_id, "failed", error=error)
            except Conflict:
                pass  # it recorded its end itself
