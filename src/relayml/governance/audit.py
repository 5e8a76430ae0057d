"""The audit log: every state change appends an entry in the same transaction, hash-chained.

``record`` locks the chain's head (one row, ``SELECT ... FOR UPDATE``; SQLite's writers are
serialized anyway), hashes the entry over the head's hash, inserts it and moves the head: three
statements, so that audited writes chain in commit order. ``relayml.governance.verify`` walks the
chain back; ``relayml.governance.checkpoints`` signs its head.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, or_, select, text, update

from relayml.domain.audit_chain import entry_hash
from relayml.domain.entities import AuditEntry, AuditQuery
from relayml.domain.validation import datetime_from_ms
from relayml.errors import InvalidInput, StoreNotReady
from relayml.store import Store, now_ms
from relayml.store.fast import FastStatement
from relayml.store.schema import audit_log
from relayml.store.schema_identity import audit_head

__all__ = [
    "MAX_PAGE",
    "conditions",
    "iter_entries",
    "list_entries",
    "parse_entity",
    "record",
    "to_datetime",
]

_JSON = ("before", "after")
_INSERT = FastStatement(audit_log.insert(), json_params=_JSON)  # SQLite: cursor.lastrowid
_INSERT_RETURNING = FastStatement(audit_log.insert().returning(audit_log.c.id), json_params=_JSON)
_LOCK_HEAD = FastStatement(
    select(audit_head.c.entry_id, audit_head.c.hash).where(text("id = 1")).with_for_update()
)
_MOVE_HEAD = FastStatement(update(audit_head).where(text("id = 1")))

HEAD_MISSING = (
    "the audit chain's head (the one row of table audit_head) is missing, so no change can be "
    "audited: someone removed it. Run `relay audit verify` to see what else was changed, and "
    "restore the row from a backup of the database."
)


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
    """Append one audit entry, chained to the head, inside the caller's transaction."""
    head = _LOCK_HEAD.first(conn, {})
    if head is None:
        raise StoreNotReady(HEAD_MISSING)
    entry = {
        "at": now_ms(),
        "actor": actor,
        "action": action,
        "entity_kind": entity_kind,
        "entity_id": str(entity_id),
        "before": before,
        "after": after,
    }
    chained = entry_hash(head[1], entry)
    entry["hash"] = chained
    if conn.dialect.name == "sqlite":
        cursor = _INSERT.execute(conn, entry)
        new_id = cursor.lastrowid
        cursor.close()
    else:
        row = _INSERT_RETURNING.first(conn, entry)
        assert row is not None
        new_id = row[0]
    _MOVE_HEAD.execute(conn, {"entry_id": new_id, "hash": chained}).close()


MAX_PAGE = 10_000  # audit entries per read


def parse_entity(text_value: str) -> tuple[str, str | None]:
    """``KIND[:ID]`` (run:abc123, model:churn) as (kind, id or None); InvalidInput if empty."""
    kind, _, entity_id = text_value.partition(":")
    if not kind.strip():
        raise InvalidInput(
            f"entity {text_value!r} names no kind; write KIND or KIND:ID, e.g. run or run:3f2a9c."
        )
    return kind.strip(), entity_id.strip() or None


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


def conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a query's filters (paging by ``before`` included)."""
    column = audit_log.c
    found = [
        column.entity_kind == query.entity_kind if query.entity_kind else None,
        column.entity_id == query.entity_id if query.entity_id else None,
        column.actor == query.actor if query.actor else None,
        _kind_condition(query.kind) if query.kind else None,
        column.at >= query.since if query.since is not None else None,
        column.at < query.until if query.until is not None else None,
        column.id < query.before if query.before is not None else None,
    ]
    return [c for c in found if c is not None]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=to_datetime(row.at),
        actor=row.actor,
        action=row.action,
        entity_kind=row.entity_kind,
        entity_id=row.entity_id,
        before=row.before,
        after=row.after,
    )


def list_entries(conn: Connection, query: AuditQuery) -> list[AuditEntry]:
    """The newest audit entries first, filtered; ``query.before`` (an entry id) pages back."""
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_PAGE}, got {query.limit}; "
            "page with before=<the last id shown>."
        )
    found = (
        select(audit_log)
        .where(*conditions(query))
        .order_by(audit_log.c.id.desc())
        .limit(query.limit)
    )
    return [_entry(row) for row in conn.execute(found)]


def iter_entries(store: Store, query: AuditQuery, page: int = 1000) -> Iterator[dict[str, Any]]:
    """Every matching entry, oldest first, as a JSON-ready dict with its hash (``at`` in epoch
    ms, as hashed; ``time`` as ISO text), read in pages of ``page`` rows (bounded memory)."""
    last = 0
    while True:
        with store.read() as conn:
            rows = conn.execute(
                select(audit_log)
                .where(*conditions(query), audit_log.c.id > last)
                .order_by(audit_log.c.id)
                .limit(page)
            ).all()
        for row in rows:
            moment = to_datetime(row.at)
            yield {
                "id": row.id,
                "at": row.at,
                "time": moment.isoformat() if moment else None,
                "actor": row.actor,
                "action": row.action,
                "entity_kind": row.entity_kind,
                "entity_id": row.entity_id,
                "before": row.before,
                "after": row.after,
                "hash": row.hash,
            }
        if len(rows) < page:
            return
        last = rows[-1].id
