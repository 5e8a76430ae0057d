"""Alert rules and events: set rules from a file, evaluate them, fire once, resolve on recovery.

Lifecycle of an event: a rule's figure crosses its threshold -> an event opens and is delivered
(webhook, log; a retraining pipeline starts if the rule says so); while it stays crossed the same
event is updated, never delivered again; someone may acknowledge it; once the figure is back
within the threshold the event resolves and the resolution is delivered too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from relayml.domain.alert_spec import RuleSpec, parse_alert_rules
from relayml.domain.monitoring import AlertEvent, AlertRule
from relayml.domain.ports import Backend
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.projects.service import project_id
from relayml.store import Store, now_ms
from relayml.store.schema_monitoring import alert_events, alert_rules

if TYPE_CHECKING:
    # Evaluating rules computes figures (pandas, scikit-learn) and posts webhooks (httpx);
    # listing and setting rules loads neither.
    from relayml.predictions import PredictionLogs

__all__ = [
    "Evaluation",
    "acknowledge",
    "evaluate_rules",
    "list_events",
    "list_rules",
    "set_rules",
]

log = logging.getLogger("relayml.alerts")
ACTIVE = ("open", "acknowledged")


def _rule(project: str, row: Any) -> AlertRule:
    return AlertRule(
        id=row.id,
        project=project,
        name=row.name,
        spec=row.spec,
        severity=row.severity,
        enabled=row.enabled,
        created_by=row.created_by,
        created_at=audit.to_datetime(row.created_at),
    )


def _event(project: str, rule: Any, row: Any) -> AlertEvent:
    return AlertEvent(
        id=row.id,
        rule=rule.name,
        project=project,
        severity=rule.severity,
        status=row.status,
        value=row.value,
        last_value=row.last_value,
        message=row.message,
        opened_at=audit.to_datetime(row.opened_at),
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=audit.to_datetime(row.acknowledged_at),
        resolved_at=audit.to_datetime(row.resolved_at),
        deliveries=row.deliveries or [],
    )


def set_rules(store: Store, actor: str, project: str, source: str) -> list[AlertRule]:
    """Make the project's rules those of the file: new ones added, changed ones updated, the
    others disabled (their events are kept)."""
    specs = parse_alert_rules(source)
    now = now_ms()
    with store.write() as conn:
        pid = project_id(conn, project)
        existing = {
            r.name: r
            for r in conn.execute(select(alert_rules).where(alert_rules.c.project_id == pid))
        }
        for spec in specs:
            values = {
                "spec": spec.model_dump(exclude={"name", "severity", "enabled"}),
                "severity": spec.severity,
                "enabled": spec.enabled,
            }
            if spec.name in existing:
                conn.execute(
                    alert_rules.update()
                    .where(alert_rules.c.id == existing[spec.name].id)
                    .values(**values)
                )
            else:
                conn.execute(
                    alert_rules.insert().values(
                        project_id=pid, name=spec.name, created_by=actor, created_at=now, **values
                    )
                )
        gone = [name for name in existing if name not in {s.name for s in specs}]
        if gone:
            conn.execute(
                alert_rules.update()
                .where(alert_rules.c.project_id == pid, alert_rules.c.name.in_(gone))
                .values(enabled=False)
            )
        audit.record(
            conn,
            actor=actor,
            action="alerts.set_rules",
            entity_kind="project",
            entity_id=project,
            after={"rules": [s.name for s in specs], "disabled": gone},
        )
        rows = conn.execute(
            select(alert_rules).where(alert_rules.c.project_id == pid).order_by(alert_rules.c.id)
        ).all()
        return [_rule(project, r) for r in rows]


def list_rules(store: Store, project: str) -> list[AlertRule]:
    """Every rule of a project (disabled ones too)."""
    with store.read() as conn:
        pid = project_id(conn, project)
        rows = conn.execute(
            select(alert_rules).where(alert_rules.c.project_id == pid).order_by(alert_rules.c.id)
        ).all()
        return [_rule(project, r) for r in rows]


def list_events(
    store: Store, project: str, *, active_only: bool = True, limit: int = 100
) -> list[AlertEvent]:
    """Alert events, newest first: the open and acknowledged ones, or all."""
    with store.read() as conn:
        pid = project_id(conn, project)
        query = (
            select(alert_events, alert_rules.c.name, alert_rules.c.severity)
            .join(alert_rules, alert_rules.c.id == alert_events.c.rule_id)
            .where(alert_rules.c.project_id == pid)
        )
        if active_only:
            query = query.where(alert_events.c.status.in_(ACTIVE))
        rows = conn.execute(query.order_by(alert_events.c.id.desc()).limit(limit)).all()
        return [_event(project, r, r) for r in rows]


def acknowledge(store: Store, actor: str, project: str, event_id: int) -> AlertEvent:
    """Mark an open alert as seen by someone (it still resolves by itself on recovery)."""
    with store.write() as conn:
        pid = project_id(conn, project)
        row = conn.execute(
            select(alert_events, alert_rules.c.name, alert_rules.c.severity)
            .join(alert_rules, alert_rules.c.id == alert_events.c.rule_id)
            .where(alert_events.c.id == event_id, alert_rules.c.project_id == pid)
        ).first()
        if row is None:
            raise NotFound(f"alert {event_id} does not exist in project {project!r}.")
        if row.status != "open":
            raise Conflict(f"alert {event_id} is {row.status}; only an open alert is acknowledged.")
        conn.execute(
            alert_events.update()
            .where(alert_events.c.id == event_id)
            .values(status="acknowledged", acknowledged_by=actor, acknowledged_at=now_ms())
        )
        audit.record(
            conn,
            actor=actor,
            action="alerts.acknowledge",
            entity_kind="alert_event",
            entity_id=f"{project}/{event_id}",
            before={"status": "open"},
            after={"status": "acknowledged"},
        )
        updated = conn.execute(
            select(alert_events, alert_rules.c.name, alert_rules.c.severity)
            .join(alert_rules, alert_rules.c.id == alert_events.c.rule_id)
            .where(alert_events.c.id == event_id)
        ).one()
        return _event(project, updated, updated)


@dataclass
class Evaluation:
    """What one rule's evaluation found and did."""

    rule: str
    severity: str
    value: float | None
    condition: str
    detail: str
    outcome: str  # fired | still firing | resolved | ok | no data | error
    event_id: int | None = None


def _payload(project: str, rule: Any, spec: RuleSpec, event_id: int, status: str,
             value: float | None, message: str, as_of: datetime) -> dict[str, Any]:  # fmt: skip
    return {
        "project": project,
        "rule": rule.name,
        "severity": rule.severity,
        "status": status,
        "event_id": event_id,
        "model": spec.model,
        "environment": spec.env,
        "figure": spec.figure,
        "value": value,
        "condition": spec.condition(),
        "message": message,
        "at": datetime.now(UTC).isoformat(),  # when it was sent
        "as_of": as_of.isoformat(),  # the moment the rule was evaluated at (relay monitor run --at)
    }


def _deliver(
    retraining: Path, spec: RuleSpec, payload: dict[str, Any], fired: bool
) -> list[dict[str, Any]]:
    from relayml.monitoring.notify import post_webhook, start_retraining

    level = logging.WARNING if payload["status"] == "open" else logging.INFO
    log.log(level, "alert %s: %s", payload["status"], payload["message"])
    deliveries: list[dict[str, Any]] = [{"to": "log", "status": "delivered"}]
    if spec.webhook:
        deliveries.append(post_webhook(spec.webhook, payload))
    if fired and spec.retrain:
        deliveries.append(start_retraining(spec.retrain, retraining))
    at = payload["at"]
    return [{**d, "at": at, "event": payload["status"]} for d in deliveries]


def _evaluate_one(
    backend: Backend,
    logs: PredictionLogs,
    store: Store,
    project: str,
    row: Any,
    now: datetime,
    retraining: Path,
    actor: str,
) -> Evaluation:
    from relayml.monitoring.figures import figure_of

    spec = RuleSpec.model_validate({**row.spec, "name": row.name, "severity": row.severity})
    try:
        value, detail = figure_of(backend, logs, project, spec, now)
    except InvalidInput as exc:
        return Evaluation(row.name, row.severity, None, spec.condition(), exc.message, "error")
    breached = spec.breached(value)
    moment_ms = int(now.timestamp() * 1000)  # an event opens and resolves when it was evaluated
    with store.write() as conn:
        active = conn.execute(
            select(alert_events).where(
                alert_events.c.rule_id == row.id, alert_events.c.status.in_(ACTIVE)
            )
        ).first()
        if breached and active is None:
            message = f"{row.name}: {spec.condition()} on {spec.model}@{spec.env} ({detail})"
            inserted = conn.execute(
                alert_events.insert().values(
                    rule_id=row.id,
                    status="open",
                    value=value,
                    last_value=value,
                    message=message,
                    opened_at=moment_ms,
                    deliveries=[],
                )
            )
            event_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            outcome = "fired"
            audit.record(conn, actor=actor, action="alert.fire", entity_kind="alert_rule",
                         entity_id=f"{project}/{row.name}", after={"event_id": event_id,
                         "value": value, "model": spec.model, "environment": spec.env})  # fmt: skip
        elif breached:
            assert active is not None
            conn.execute(
                alert_events.update().where(alert_events.c.id == active.id).values(last_value=value)
            )
            return Evaluation(row.name, row.severity, value, spec.condition(), detail,
                              "still firing", active.id)  # fmt: skip
        elif active is not None:
            event_id, message = active.id, f"{row.name} resolved: {detail}"
            conn.execute(
                alert_events.update()
                .where(alert_events.c.id == event_id)
                .values(status="resolved", resolved_at=moment_ms, last_value=value)
            )
            outcome = "resolved"
        else:
            outcome = "no data" if value is None else "ok"
            return Evaluation(row.name, row.severity, value, spec.condition(), detail, outcome)
    status = "open" if outcome == "fired" else "resolved"
    payload = _payload(project, row, spec, event_id, status, value, message, now)
    deliveries = _deliver(retraining, spec, payload, outcome == "fired")
    with store.write() as conn:
        previous = conn.execute(
            select(alert_events.c.deliveries).where(alert_events.c.id == event_id)
        ).scalar()
        conn.execute(
            alert_events.update()
            .where(alert_events.c.id == event_id)
            .values(deliveries=[*(previous or []), *deliveries])
        )
    return Evaluation(row.name, row.severity, value, spec.condition(), detail, outcome, event_id)


def evaluate_rules(
    backend: Backend,
    logs: PredictionLogs,
    store: Store,
    project: str,
    *,
    retraining: Path,
    now: datetime | None = None,
    actor: str = "relay-monitor",
) -> list[Evaluation]:
    """Evaluate every enabled rule of a project now; fire, update or resolve their events.

    A rule that retrains writes its request under `retraining` (a folder). A fired alert is
    audited (alert.fire) as done by actor.
    """
    moment = now or datetime.now(UTC)
    with store.read() as conn:
        pid = project_id(conn, project)
        rows = conn.execute(
            select(alert_rules)
            .where(alert_rules.c.project_id == pid, alert_rules.c.enabled.is_(True))
            .order_by(alert_rules.c.id)
        ).all()
    if not rows:
        raise InvalidInput(
            f"project {project!r} has no alert rules; set them with `relay alerts set alerts.yaml`."
        )
    return [
        _evaluate_one(backend, logs, store, project, row, moment, retraining, actor) for row in rows
    ]
