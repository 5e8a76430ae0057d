"""One tick of the scheduler: fire every enabled schedule whose cron time came or whose event
happened, each once, and start its pipeline.

A cron schedule fires for the newest time it names that is later than the last one it handled:
times missed while no tick ran (the server was down) fire it once, not once per missed time.
An event schedule follows the audit log past the last entry it saw; several matching events
since the last tick fire it once, for the newest. A firing is claimed by inserting its key (the
cron time, or the audit entry), unique per schedule, so that two ticks at once (two threads,
two server replicas) fire it once: the loser's insert fails and it moves on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from croniter import croniter
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from relayml.domain.schedules import EVENT_ACTIONS, Firing, Schedule, Trigger
from relayml.governance import audit
from relayml.schedules.cron import latest_time
from relayml.schedules.service import to_firing, to_schedule, update_firing
from relayml.store import Store, now_ms
from relayml.store.schema import audit_log, projects
from relayml.store.schema_schedules import schedule_firings, schedules

__all__ = ["Launcher", "tick"]

log = logging.getLogger("relayml.schedules")


class Launcher(Protocol):
    """Starts the pipeline run of a firing (a subprocess, which may submit to Dask)."""

    def output_for(self, schedule: Schedule, key: str) -> str:
        """The file the run's output will go to."""
        ...

    def start(self, schedule: Schedule, firing: Firing) -> None:
        """Start the run in the background; it records its progress on the firing."""
        ...


_MAX_MISSED = 1000  # missed cron times counted for the reason text, at most


def _missed(expr: str, after_ms: int, slot: datetime) -> int:
    """How many earlier times of the expression fell between after_ms and slot."""
    it = croniter(expr, datetime.fromtimestamp(after_ms / 1000, UTC))
    count = 0
    while count < _MAX_MISSED:
        moment: datetime = it.get_next(datetime)
        if moment >= slot:
            break
        count += 1
    return count


def _cron_due(row: Any, trigger: Trigger, now: datetime) -> tuple[str, str, int] | None:
    """(key, reason, new cursor) when a cron time came since the schedule's cursor."""
    expr = trigger.cron or ""
    slot = latest_time(expr, now)
    slot_ms = int(slot.timestamp() * 1000)
    if slot_ms <= row.cursor:
        return None
    reason = f"cron {expr}: {slot:%Y-%m-%d %H:%M} UTC"
    missed = _missed(expr, row.cursor, slot)
    if missed:
        plural = "s" if missed != 1 else ""
        reason += f" ({missed} earlier time{plural} missed while no scheduler ran, not run)"
    return f"cron:{slot_ms}", reason, slot_ms


def _matches(project: str, trigger: Trigger, entry: Any) -> bool:
    if trigger.kind == "dataset":
        return bool(entry.entity_id.rpartition("@")[0] == f"{project}/{trigger.dataset}")
    if trigger.kind == "alert":
        return bool(entry.entity_id == f"{project}/{trigger.rule}")
    after = entry.after or {}
    return bool(
        entry.entity_id == f"{project}/{trigger.model}"
        and after.get("alias") == trigger.environment
    )


def _describe(trigger: Trigger, entry: Any, skipped: int) -> str:
    after = entry.after or {}
    if trigger.kind == "dataset":
        what = f"dataset version {entry.entity_id.partition('/')[2]} logged"
    elif trigger.kind == "alert":
        what = f"alert {trigger.rule!r} fired (event {after.get('event_id')})"
    else:
        what = f"{trigger.model}/{after.get('version')} promoted to {trigger.environment}"
    text = f"{what} by {entry.actor} (audit entry {entry.id})"
    if skipped:
        text += f"; {skipped} earlier matching event(s) since the last tick folded into this one"
    return text


def _event_due(
    store: Store, project: str, row: Any, trigger: Trigger, top: int
) -> tuple[str, str, int] | None:
    """(key, reason, new cursor) for the newest matching audit entry after the cursor."""
    if top <= row.cursor:
        return None
    with store.read() as conn:
        entries = conn.execute(
            select(audit_log.c.id, audit_log.c.actor, audit_log.c.entity_id, audit_log.c.after)
            .where(
                audit_log.c.id > row.cursor,
                audit_log.c.id <= top,
                audit_log.c.action == EVENT_ACTIONS[trigger.kind],
                audit_log.c.entity_id.like(f"{project}/%"),
            )
            .order_by(audit_log.c.id)
        ).all()
    matching = [e for e in entries if _matches(project, trigger, e)]
    if not matching:
        _advance(store, row.id, top)
        return None
    newest = matching[-1]
    return f"audit:{newest.id}", _describe(trigger, newest, len(matching) - 1), top


def _advance(store: Store, schedule_id: int, cursor: int) -> None:
    """Move a schedule's cursor forward (never back: a slower tick may come second)."""
    with store.write() as conn:
        conn.execute(
            update(schedules)
            .where(schedules.c.id == schedule_id, schedules.c.cursor < cursor)
            .values(cursor=cursor)
        )


def _claim(
    store: Store, actor: str, schedule: Schedule, due: tuple[str, str, int], output: str
) -> Firing | None:
    """Insert the firing (started) and move the cursor; None when another tick claimed it."""
    key, reason, cursor = due
    try:
        with store.write() as conn:
            inserted = conn.execute(
                schedule_firings.insert().values(
                    schedule_id=schedule.id,
                    key=key,
                    reason=reason,
                    fired_at=now_ms(),
                    status="started",
                    log=output,
                )
            )
            firing_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule.id, schedules.c.cursor < cursor)
                .values(cursor=cursor)
            )
            audit.record(conn, actor=actor, action="schedule.fire", entity_kind="schedule",
                         entity_id=f"{schedule.project}/{schedule.name}",
                         after={"firing": firing_id, "reason": reason,
                                "pipeline": schedule.pipeline})  # fmt: skip
            row = conn.execute(
                select(schedule_firings).where(schedule_firings.c.id == firing_id)
            ).one()
    except IntegrityError:
        return None  # the same key is in: another tick fired it
    return to_firing(schedule.project, schedule.name, row)


def tick(
    store: Store,
    actor: str,
    launcher: Launcher,
    *,
    project: str | None = None,
    now: datetime | None = None,
) -> list[Firing]:
    """Fire what is due (in one project, or all); the firings this tick claimed."""
    moment = now or datetime.now(UTC)
    with store.read() as conn:
        top = int(conn.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).scalar() or 0)
        query = (
            select(schedules, projects.c.name.label("project_name"))
            .join(projects, projects.c.id == schedules.c.project_id)
            .where(schedules.c.enabled.is_(True))
            .order_by(schedules.c.id)
        )
        if project is not None:
            query = query.where(projects.c.name == project)
        rows = conn.execute(query).all()
    fired: list[Firing] = []
    for row in rows:
        trigger = Trigger.model_validate(row.trigger)
        schedule = to_schedule(row.project_name, row)
        try:
            if trigger.kind == "cron":
                due = _cron_due(row, trigger, moment)
            else:
                due = _event_due(store, row.project_name, row, trigger, top)
        except Exception:
            log.exception("checking schedule %s/%s failed", row.project_name, row.name)
            continue
        if due is None:
            continue
        firing = _claim(store, actor, schedule, due, launcher.output_for(schedule, due[0]))
        if firing is None:
            continue
        fired.append(_start(store, actor, launcher, schedule, firing))
    return fired


def _start(
    store: Store, actor: str, launcher: Launcher, schedule: Schedule, firing: Firing
) -> Firing:
    """Start the firing's pipeline run; a launch that fails marks the firing failed."""
    try:
        launcher.start(schedule, firing)
    except Exception as exc:
        log.exception("starting %s for schedule %s failed", schedule.pipeline, schedule.name)
        error = f"could not start the pipeline: {type(exc).__name__}: {exc}"
        return update_firing(store, actor, firing.id, "failed", error=error)
    log.info("schedule %s/%s fired: %s", schedule.project, schedule.name, firing.reason)
    return firing
