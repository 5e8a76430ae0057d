"""The model inventory: every model ever in staging or production, retired ones kept.

Risk tiers and retirement need no table of their own: they are reserved tags of the registered
model (``relay.risk_tier``, ``relay.retired_at`` ...), each change audited in the same
transaction; the audit log keeps the history of tiers and their reasons.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from relayml.domain.clock import now_ms
from relayml.domain.reports import InventoryEntry, ServedStretch, check_tier, review_due
from relayml.errors import Conflict, InvalidInput
from relayml.governance import audit
from relayml.models.gates import policy_of
from relayml.models.registry import model_row
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import alias_history, model_versions, projects, registered_models
from relayml.store.schema_monitoring import alert_events, alert_rules, feedback_flags
from relayml.store.schema_promotion import evaluations, promotions

__all__ = ["TIER", "inventory", "retire_model", "set_risk_tier"]

TIER = "relay.risk_tier"
SERVING = ("staging", "production")


def _ms(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


def _days(start: int, end: int | None, now: int) -> float:
    return round(((end if end is not None else now) - start) / 86_400_000, 3)


def _served(conn: Connection, model_ids: list[int], now: int) -> dict[int, list[ServedStretch]]:
    found: dict[int, list[ServedStretch]] = defaultdict(list)
    rows = conn.execute(
        select(alias_history)
        .where(alias_history.c.model_id.in_(model_ids), alias_history.c.alias.in_(SERVING))
        .order_by(alias_history.c.id)
    )
    for r in rows:
        found[r.model_id].append(
            ServedStretch(
                environment=r.alias,
                version=r.version,
                since=audit.to_datetime(r.assigned_at),
                until=audit.to_datetime(r.ended_at),
                days=_days(r.assigned_at, r.ended_at, now),
            )
        )
    return found


def _last_validation(conn: Connection, model_ids: list[int]) -> dict[int, int]:
    latest: dict[int, int] = {}
    for table, column in ((evaluations, evaluations.c.created_at), (promotions, None)):
        at = column if column is not None else promotions.c.requested_at
        rows = conn.execute(
            select(model_versions.c.model_id, func.max(at))
            .join(model_versions, model_versions.c.id == table.c.version_id)
            .where(model_versions.c.model_id.in_(model_ids))
            .group_by(model_versions.c.model_id)
        )
        for model_id, when in rows:
            if when is not None:
                latest[model_id] = max(latest.get(model_id, 0), int(when))
    return latest


def _open_alerts(conn: Connection, pids: set[int]) -> dict[tuple[int, str], int]:
    counts: dict[tuple[int, str], int] = defaultdict(int)
    rows = conn.execute(
        select(alert_rules.c.project_id, alert_rules.c.spec)
        .join(alert_events, alert_events.c.rule_id == alert_rules.c.id)
        .where(alert_rules.c.project_id.in_(pids), alert_events.c.status != "resolved")
    )
    for pid, spec in rows:
        counts[(pid, str((spec or {}).get("model", "")))] += 1
    return counts


def _open_flags(conn: Connection, pids: set[int]) -> dict[tuple[int, str], int]:
    rows = conn.execute(
        select(feedback_flags.c.project_id, feedback_flags.c.model, func.count())
        .where(feedback_flags.c.project_id.in_(pids), feedback_flags.c.status == "open")
        .group_by(feedback_flags.c.project_id, feedback_flags.c.model)
    )
    return {(pid, model): int(n) for pid, model, n in rows}


def _status(tags: dict[str, Any], current: dict[str, int]) -> str:
    if "production" in current:
        return "production"
    if "staging" in current:
        return "staging"
    return "retired" if tags.get("relay.retired_at") else "withdrawn"


def inventory(store: Store, project_names: set[str] | None = None) -> list[InventoryEntry]:
    """Every model ever in staging or production (of these projects; None: all), by project."""
    now = now_ms()
    with store.read() as conn:
        ever = select(alias_history.c.model_id).where(alias_history.c.alias.in_(SERVING))
        query = (
            select(registered_models, projects.c.name.label("project"))
            .join(projects, projects.c.id == registered_models.c.project_id)
            .where(registered_models.c.id.in_(ever))
            .order_by(projects.c.name, registered_models.c.name)
        )
        rows = [
            r for r in conn.execute(query) if project_names is None or r.project in project_names
        ]
        ids = [r.id for r in rows]
        pids = {r.project_id for r in rows}
        served = _served(conn, ids, now)
        validated = _last_validation(conn, ids)
        alerts, flags = _open_alerts(conn, pids), _open_flags(conn, pids)
        cadence = {pid: policy_of(conn, pid)[1].review for pid in pids}
        return [
            _entry(r, served[r.id], validated.get(r.id), alerts, flags, now, cadence[r.project_id])
            for r in rows
        ]


def _entry(
    row: Any,
    served: list[ServedStretch],
    validated: int | None,
    alerts: dict[tuple[int, str], int],
    flags: dict[tuple[int, str], int],
    now: int,
    cadence: dict[str, int],
) -> InventoryEntry:
    tags = dict(row.tags or {})
    current = {s.environment: s.version for s in served if s.until is None}
    tier = tags.get(TIER) or None
    last = audit.to_datetime(validated)
    due = review_due(tier, last, cadence)
    retired = tags.get("relay.retired_at")
    return InventoryEntry(
        project=row.project,
        model=row.name,
        owner=row.owner,
        status=_status(tags, current),
        environments=current,
        risk_tier=tier,
        risk_tier_reason=tags.get("relay.risk_tier_reason", ""),
        risk_tier_set_by=tags.get("relay.risk_tier_by"),
        risk_tier_set_at=audit.to_datetime(int(tags["relay.risk_tier_at"]))
        if tags.get("relay.risk_tier_at")
        else None,
        last_validation=last,
        next_review_due=due,
        review_overdue=bool(due and not retired and _ms(due) < now),  # type: ignore[operator]
        open_alerts=alerts.get((row.project_id, row.name), 0),
        open_flags=flags.get((row.project_id, row.name), 0),
        served=served,
        retired_at=audit.to_datetime(int(retired)) if retired else None,
        retired_by=tags.get("relay.retired_by"),
        retired_reason=tags.get("relay.retired_reason", ""),
    )


def _one(store: Store, project: str, name: str) -> InventoryEntry:
    for entry in inventory(store, {project}):
        if entry.model == name:
            return entry
    raise InvalidInput(  # unreachable for models that held an environment
        f"{name!r} has never been in staging or production, so it is not in the inventory."
    )


def _set_tags(conn: Connection, model: Any, changes: dict[str, str]) -> dict[str, str]:
    tags = {**dict(model.tags or {}), **changes}
    conn.execute(
        update(registered_models).where(registered_models.c.id == model.id).values(tags=tags)
    )
    return tags


def _require_inventoried(conn: Connection, model: Any, project: str) -> None:
    held = conn.execute(
        select(alias_history.c.id)
        .where(alias_history.c.model_id == model.id, alias_history.c.alias.in_(SERVING))
        .limit(1)
    ).first()
    if held is None:
        raise InvalidInput(
            f"{project}/{model.name} has never been in staging or production, so it is not in "
            f"the inventory yet; promote a version first (`relay models promote "
            f"{model.name}/<version> --to staging`)."
        )


def set_risk_tier(
    store: Store, actor: str, project: str, name: str, tier: str, reason: str
) -> InventoryEntry:
    """Set a model's risk tier with the reason (audited: model.set_risk_tier)."""
    tier = check_tier(tier)
    if not reason.strip():
        raise InvalidInput("say why: a risk tier needs a reason (--reason '...').")
    with store.write() as conn:
        model = model_row(conn, project_id(conn, project), project, name)
        _require_inventoried(conn, model, project)
        before = dict(model.tags or {})
        _set_tags(
            conn,
            model,
            {
                TIER: tier,
                "relay.risk_tier_reason": reason.strip(),
                "relay.risk_tier_by": actor,
                "relay.risk_tier_at": str(now_ms()),
            },
        )
        audit.record(
            conn,
            actor=actor,
            action="model.set_risk_tier",
            entity_kind="model",
            entity_id=f"{project}/{name}",
            before={"risk_tier": before.get(TIER)},
            after={"risk_tier": tier, "reason": reason.strip()},
        )
    return _one(store, project, name)


def retire_model(store: Store, actor: str, project: str, name: str, reason: str) -> InventoryEntry:
    """Retire a model: its environments end now, it stays in the inventory (audited)."""
    if not reason.strip():
        raise InvalidInput("say why: retiring a model needs a reason (--reason '...').")
    now = now_ms()
    with store.write() as conn:
        model = model_row(conn, project_id(conn, project), project, name)
        _require_inventoried(conn, model, project)
        if (model.tags or {}).get("relay.retired_at"):
            raise Conflict(f"{project}/{name} is already retired.")
        held = dict(
            conn.execute(
                select(alias_history.c.alias, alias_history.c.version).where(
                    alias_history.c.model_id == model.id, alias_history.c.ended_at.is_(None)
                )
            ).all()
        )
        conn.execute(
            update(alias_history)
            .where(alias_history.c.model_id == model.id, alias_history.c.ended_at.is_(None))
            .values(ended_at=now, ended_by=actor)
        )
        _set_tags(
            conn,
            model,
            {
                "relay.retired_at": str(now),
                "relay.retired_by": actor,
                "relay.retired_reason": reason.strip(),
            },
        )
        audit.record(
            conn,
            actor=actor,
            action="model.retire",
            entity_kind="model",
            entity_id=f"{project}/{name}",
            before={"environments": held},
            after={"environments": {}, "reason": reason.strip()},
        )
    return _one(store, project, name)
