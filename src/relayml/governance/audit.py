"""The audit log: every state change appends an entry in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.entities import AuditEntry
from relayml.domain.validation import datetime_from_ms
from relayml.store import now_ms
from relayml.store.fast import FastStatement
from relayml.store.schema import audit_log

__all__ = ["list_entries", "record", "to_datetime"]


_INSERT = FastStatement(audit_log.insert(), json_params=("before", "after"))


def to_datetime(ms: int | None) -> datetime | None:
    """Epoch milliseconds to an aware UTC datetime (total: out-of-range values are clamped)."""
    return datetime_from_ms(ms)


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity_kind: str,
    entity_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry inside the caller's transaction."""
    _INSERT.execute(
        conn,
        {
            "at": now_ms(),
            "actor": actor,
            "action": action,
            "entity_kind": entity_kind,
            "entity_id": str(entity_id),
            "before": before,
            "after": after,
        },
    )


def list_entries(
    conn: Connection,
    *,
    entity_kind: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest audit entries first, optionally for one entity."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if entity_kind:
        query = query.where(audit_log.c.entity_kind == entity_kind)
    if entity_id:
        query = query.where(audit_log.c.entity_id == entity_id)
    return [
        AuditEntry(
            id=row.id,
            at=to_datetime(row.at),
            actor=row.actor,
            action=row.action,
            entity_kind=row.entity_kind,
            entity_id=row.entity_id,
            before=row.before,
            after=row.after,
        )
        for row in conn.execute(query)
    ]
