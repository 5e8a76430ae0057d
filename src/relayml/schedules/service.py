"""Schedules of a project: add, list, show with their firings, pause, resume, remove.

Each change writes the audit log in its transaction. A new (or resumed) schedule looks forward
only: cron times and events before it was added (or while it was paused) do not fire it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from relayml.domain.schedules import Firing, Schedule, ScheduleDetail, Trigger
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.projects.service import project_id
from relayml.schedules.cron import check_cron, next_time
from relayml.store import Store, now_ms
from relayml.store.schema import audit_log, datasets, projects, registered_models
from relayml.store.schema_monitoring import alert_rules
from relayml.store.schema_schedules import schedule_firings, schedules

__all__ = [
    "add_schedule",
    "get_schedule",
    "list_firings",
    "list_schedules",
    "remove_schedule",
    "schedule_row",
    "set_enabled",
    "to_firing",
    "to_schedule",
    "update_firing",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _ms(value: int | None) -> datetime | None:
    return None if value is None else audit.to_datetime(value)


def to_schedule(project: str, row: Any, last_fired: int | None = None) -> Schedule:
    """A schedules row as the entity (with when it last fired and, for cron, when it is due)."""
    trigger = Trigger.model_validate(row.trigger)
    due = None
    if trigger.kind == "cron" and row.enabled and trigger.cron:
        due = next_time(trigger.cron, datetime.now(UTC))
    return Schedule(
        id=row.id,
        project=project,
        name=row.name,
        pipeline=row.pipeline,
        params=dict(row.params or {}),
        workdir=row.workdir,
        trigger=trigger,
        enabled=bool(row.enabled),
        created_by=row.created_by,
        created_at=_ms(row.created_at),
        last_fired_at=_ms(last_fired),
        next_due=due,
    )


def to_firing(project: str, schedule: str, row: Any) -> Firing:
    """A schedule_firings row as the entity."""
    return Firing(
        id=row.id,
        schedule=schedule,
        project=project,
        reason=row.reason,
        fired_at=_ms(row.fired_at),
        status=row.status,
        pipeline_run=row.pipeline_run,
        error=row.error,
        ended_at=_ms(row.ended_at),
        log=row.log,
    )


def schedule_row(conn: Connection, project: str, name: str) -> Any:
    """The schedules row of a name in a project, or NotFound."""
    pid = project_id(conn, project)
    row = conn.execute(
        select(schedules).where(schedules.c.project_id == pid, schedules.c.name == name)
    ).first()
    if row is None:
        raise NotFound(
            f"project {project!r} has no schedule {name!r}; `relay schedules list` shows them."
        )
    return row


def _check_subject(conn: Connection, pid: int, project: str, trigger: Trigger) -> Trigger:
    """The trigger with its cron tidied, once what it names exists in the project."""
    if trigger.kind == "cron":
        return trigger.model_copy(update={"cron": check_cron(trigger.cron or "")})
    table, name, what, how = {
        "dataset": (datasets, trigger.dataset, "dataset", "log one with `relay datasets log`"),
        "alert": (alert_rules, trigger.rule, "alert rule", "set rules with `relay alerts set`"),
        "promotion": (registered_models, trigger.model, "model", "register a version first"),
    }[trigger.kind]
    found = conn.execute(
        select(table.c.id).where(table.c.project_id == pid, table.c.name == name)
    ).first()
    if found is None:
        raise NotFound(f"project {project!r} has no {what} {name!r}; {how}.")
    return trigger


def _start_cursor(conn: Connection, trigger: Trigger) -> int:
    """Where a trigger starts looking: now (cron) or the newest audit entry (events)."""
    if trigger.kind == "cron":
        return now_ms()
    return int(conn.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).scalar() or 0)


def add_schedule(
    store: Store,
    actor: str,
    project: str,
    name: str,
    pipeline: str,
    trigger: Trigger,
    *,
    params: Mapping[str, str] | None = None,
    workdir: str | None = None,
) -> Schedule:
    """Create a schedule; it fires from now on (InvalidInput, NotFound, Conflict)."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"schedule name {name!r}: use letters, digits, '.', '_' or '-' (at most 100), "
            "starting with a letter or digit (e.g. nightly-retrain)."
        )
    module, _, attribute = pipeline.rpartition(":")
    if not module or not attribute:
        raise InvalidInput(
            f"{pipeline!r} does not name a pipeline; write module:pipeline "
            "(flows.churn:churn_data) or path/to/file.py:pipeline."
        )
    values = {str(k): str(v) for k, v in (params or {}).items()}
    texts = [name, pipeline, workdir or "", *values, *values.values(), trigger.text()]
    if any("\x00" in text for text in texts):
        raise InvalidInput(
            "a schedule's name, pipeline, params, folder and trigger may not hold a NUL "
            "character (\\x00); remove it."
        )
    with store.write() as conn:
        pid = project_id(conn, project)
        trigger = _check_subject(conn, pid, project, trigger)
        taken = conn.execute(
            select(schedules.c.id).where(schedules.c.project_id == pid, schedules.c.name == name)
        ).first()
        if taken is not None:
            raise Conflict(
                f"project {project!r} already has a schedule {name!r}; remove it first "
                f"(`relay schedules remove {name}`) or choose another name."
            )
        created = now_ms()
        inserted = conn.execute(
            schedules.insert().values(
                project_id=pid,
                name=name,
                pipeline=pipeline,
                params=values,
                workdir=workdir,
                trigger=trigger.model_dump(exclude_none=True),
                enabled=True,
                cursor=_start_cursor(conn, trigger),
                created_by=actor,
                created_at=created,
            )
        )
        new_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
        after = {"pipeline": pipeline, "params": values, "trigger": trigger.text()}
        audit.record(conn, actor=actor, action="schedule.add", entity_kind="schedule",
                     entity_id=f"{project}/{name}", after=after)  # fmt: skip
        row = conn.execute(select(schedules).where(schedules.c.id == new_id)).one()
        return to_schedule(project, row)


def list_schedules(store: Store, project: str) -> list[Schedule]:
    """A project's schedules by name."""
    with store.read() as conn:
        pid = project_id(conn, project)
        last = (
            select(func.max(schedule_firings.c.fired_at))
            .where(schedule_firings.c.schedule_id == schedules.c.id)
            .scalar_subquery()
        )
        rows = conn.execute(
            select(schedules, last.label("last_fired"))
            .where(schedules.c.project_id == pid)
            .order_by(schedules.c.name)
        ).all()
    return [to_schedule(project, row, row.last_fired) for row in rows]


def list_firings(store: Store, project: str, name: str, *, limit: int = 20) -> list[Firing]:
    """A schedule's firings, newest first (NotFound)."""
    with store.read() as conn:
        row = schedule_row(conn, project, name)
        found = conn.execute(
            select(schedule_firings)
            .where(schedule_firings.c.schedule_id == row.id)
            .order_by(schedule_firings.c.id.desc())
            .limit(limit)
        ).all()
    return [to_firing(project, name, f) for f in found]


def get_schedule(store: Store, project: str, name: str, *, limit: int = 20) -> ScheduleDetail:
    """A schedule with its newest firings (NotFound)."""
    firings = list_firings(store, project, name, limit=limit)
    with store.read() as conn:
        row = schedule_row(conn, project, name)
    last = firings[0].fired_at if firings else None
    schedule = to_schedule(project, row).model_copy(update={"last_fired_at": last})
    return ScheduleDetail(schedule=schedule, firings=firings)


def set_enabled(store: Store, actor: str, project: str, name: str, enabled: bool) -> Schedule:
    """Pause or resume a schedule; resumed, it fires on times and events from now on."""
    with store.write() as conn:
        row = schedule_row(conn, project, name)
        if bool(row.enabled) == enabled:
            state = "active" if enabled else "paused"
            raise Conflict(f"schedule {name!r} is already {state}.")
        trigger = Trigger.model_validate(row.trigger)
        values: dict[str, Any] = {"enabled": enabled}
        if enabled:
            values["cursor"] = _start_cursor(conn, trigger)
        conn.execute(update(schedules).where(schedules.c.id == row.id).values(**values))
        action = "schedule.resume" if enabled else "schedule.pause"
        audit.record(conn, actor=actor, action=action, entity_kind="schedule",
                     entity_id=f"{project}/{name}", before={"enabled": bool(row.enabled)},
                     after={"enabled": enabled})  # fmt: skip
        fresh = conn.execute(select(schedules).where(schedules.c.id == row.id)).one()
        return to_schedule(project, fresh)


def remove_schedule(store: Store, actor: str, project: str, name: str) -> Schedule:
    """Delete a schedule and its firings (the audit log keeps their story); NotFound."""
    with store.write() as conn:
        row = schedule_row(conn, project, name)
        gone = to_schedule(project, row)
        fired = conn.execute(
            delete(schedule_firings).where(schedule_firings.c.schedule_id == row.id)
        ).rowcount
        conn.execute(delete(schedules).where(schedules.c.id == row.id))
        before = {"pipeline": row.pipeline, "trigger": gone.trigger.text(), "firings": fired}
        audit.record(conn, actor=actor, action="schedule.remove", entity_kind="schedule",
                     entity_id=f"{project}/{name}", before=before)  # fmt: skip
    return gone


_ENDED = ("finished", "failed")


def update_firing(
    store: Store,
    actor: str,
    firing_id: int,
    status: str,
    *,
    project: str | None = None,
    pipeline_run: str | None = None,
    error: str | None = None,
    log: str | None = None,
) -> Firing:
    """Record what became of a firing: running (with its pipeline run), finished or failed."""
    if status not in ("running", *_ENDED):
        raise InvalidInput(f"firing status {status!r}: use running, finished or failed.")
    with store.write() as conn:
        row = conn.execute(
            select(schedule_firings, schedules.c.name, schedules.c.project_id)
            .join(schedules, schedules.c.id == schedule_firings.c.schedule_id)
            .where(schedule_firings.c.id == firing_id)
        ).first()
        name = None if row is None else _project_name(conn, row.project_id)
        if row is None or (project is not None and name != project):
            where = "" if project is None else f" in project {project!r}"
            raise NotFound(f"there is no schedule firing {firing_id}{where}.")
        if row.status in _ENDED:
            raise Conflict(f"firing {firing_id} already ended ({row.status}).")
        values: dict[str, Any] = {"status": status}
        for key, value in (("pipeline_run", pipeline_run), ("error", error), ("log", log)):
            if value is not None:
                values[key] = value
        if status in _ENDED:
            values["ended_at"] = now_ms()
        conn.execute(
            update(schedule_firings).where(schedule_firings.c.id == firing_id).values(**values)
        )
        project = str(name)
        after = {k: v for k, v in values.items() if k != "ended_at"}
        audit.record(conn, actor=actor, action="schedule.firing", entity_kind="schedule",
                     entity_id=f"{project}/{row.name}", before={"firing": firing_id,
                     "status": row.status}, after={"firing": firing_id, **after})  # fmt: skip
        fresh = conn.execute(
            select(schedule_firings).where(schedule_firings.c.id == firing_id)
        ).one()
        return to_firing(project, row.name, fresh)


def _project_name(conn: Connection, pid: int) -> str:
    return str(conn.execute(select(projects.c.name).where(projects.c.id == pid)).scalar())
