"""The audit log: every state change appends an entry in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, or_, select

from relayml.domain.entities import AuditEntry, AuditQuery
from relayml.domain.validation import datetime_from_ms
from relayml.errors import InvalidInput
from relayml.store import now_ms
from relayml.store.fast import FastStatement
from relayml.store.schema import audit_log

__all__ = ["MAX_PAGE", "list_entries", "record", "to_datetime"]


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


MAX_PAGE = 10_000  # audit entries per read


def _kind_condition(kind: str) -> ColumnElement[bool]:
    """Entries about an entity type, or whose action is named kind (policy: project.set_policy)."""
    word = kind.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    action = audit_log.c.action
    return or_(
        audit_log.c.entity_kind == kind,
        action == kind,
        action.like(f"{word}.%", escape="\\"),
        action.like(f"%.{word}", escape="\\"),
        action.like(f"%.%\\_{word}", escape="\\"),
    )


def list_entries(conn: Connection, query: AuditQuery) -> list[AuditEntry]:
    """The newest audit entries first, filtered; ``query.before`` (an entry id) pages back."""
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_PAGE}, got {query.limit}; "
            "page with before=<the last id shown>."
        )
    column = audit_log.c
    conditions = [
        column.entity_kind == query.entity_kind if query.entity_kind else None,
        column.entity_id == query.entity_id if query.entity_id else None,
        column.actor == query.actor if query.actor else None,
        _kind_condition(query.kind) if query.kind else None,
        column.at >= query.since if query.since is not None else None,
        column.at < query.until if query.until is not None else None,
        column.id < query.before if query.before is not None else None,
    ]
    found = (
        select(audit_log)
        .where(*(c for c in conditions if c is not None))
        .order_by(column.id.desc())
        .limit(query.limit)
    )
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
        for row in conn.execute(found)
    ]
