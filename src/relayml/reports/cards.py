"""Model cards: the intended use and limitations a data scientist attaches to a model version.

No table of their own: the current texts sit in the version's ``details["card"]`` (with who set
them and when), and every change is an audit entry ``model.set_card`` on the version written in
the same transaction, so the history of the texts is the hash-chained audit trail itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from relayml.domain.reports import ModelCard, ModelCardText, check_card_text
from relayml.errors import InvalidInput
from relayml.governance import audit
from relayml.models.registry import MODELS, version_row
from relayml.projects import project_id
from relayml.store import Store
from relayml.store.schema import audit_log, model_versions

__all__ = ["ACTION", "card_history", "get_card", "set_card"]

ACTION = "model.set_card"
_TEXTS = ("intended_use", "limitations")


def _current(row: Any) -> ModelCardText | None:
    card = (row.details or {}).get("card")
    if not card:
        return None
    return ModelCardText(
        intended_use=card.get("intended_use", ""),
        limitations=card.get("limitations", ""),
        set_by=card["set_by"],
        set_at=audit.to_datetime(int(card["set_at"])),
        audit_id=card.get("audit_id"),
    )


def card_history(conn: Connection, key: str) -> list[ModelCardText]:
    """Every text a version's card had, oldest first, from the audit entries of its changes."""
    rows = conn.execute(
        select(audit_log.c.id, audit_log.c.at, audit_log.c.actor, audit_log.c.after)
        .where(audit_log.c.entity_id == key, audit_log.c.action == ACTION)
        .order_by(audit_log.c.id)
    )
    return [
        ModelCardText(
            intended_use=(after or {}).get("intended_use", ""),
            limitations=(after or {}).get("limitations", ""),
            set_by=actor,
            set_at=audit.to_datetime(at),
            audit_id=entry_id,
        )
        for entry_id, at, actor, after in rows
    ]


def _card(conn: Connection, project: str, ref: str) -> ModelCard:
    row = version_row(conn, project, project_id(conn, project), ref)
    name = MODELS.ref(ref).name
    return ModelCard(
        project=project,
        model=name,
        version=row.version,
        current=_current(row),
        history=card_history(conn, f"{project}/{name}/{row.version}"),
    )


def get_card(store: Store, project: str, ref: str) -> ModelCard:
    """A version's card now and every text it had; NotFound."""
    with store.read() as conn:
        return _card(conn, project, ref)


def set_card(
    store: Store,
    actor: str,
    project: str,
    ref: str,
    *,
    intended_use: str | None = None,
    limitations: str | None = None,
) -> ModelCard:
    """Set a version's intended use and/or limitations (the other text is kept); audited."""
    texts = {
        "intended_use": check_card_text("the intended use", intended_use),
        "limitations": check_card_text("the limitations", limitations),
    }
    if all(v is None for v in texts.values()):
        raise InvalidInput(
            "say what to set: the intended use, the limitations or both "
            "(--intended-use '...' --limitations '...')."
        )
    with store.write() as conn:
        pid = project_id(conn, project)
        found = version_row(conn, project, pid, ref)
        row = conn.execute(  # locked: two writers do not lose each other's text
            select(model_versions).where(model_versions.c.id == found.id).with_for_update()
        ).one()
        name = MODELS.ref(ref).name
        details = dict(row.details or {})
        old = details.get("card") or {}
        new = {k: old.get(k, "") if v is None else v for k, v in texts.items()}
        if old and all(old.get(k, "") == new[k] for k in _TEXTS):
            return _card(conn, project, ref)  # nothing changes: nothing to audit
        if not any(new.values()):
            raise InvalidInput(
                "a model card needs some text: give the intended use or the limitations."
            )
        key = f"{project}/{name}/{row.version}"
        audit.record(
            conn,
            actor=actor,
            action=ACTION,
            entity_kind="model_version",
            entity_id=key,
            before={k: old.get(k, "") for k in _TEXTS} if old else None,
            after=new,
        )
        entry_id, at = conn.execute(
            select(audit_log.c.id, audit_log.c.at)
            .where(audit_log.c.entity_id == key, audit_log.c.action == ACTION)
            .order_by(audit_log.c.id.desc())
            .limit(1)
        ).one()
        details["card"] = {**new, "set_by": actor, "set_at": at, "audit_id": entry_id}
        conn.execute(
            update(model_versions).where(model_versions.c.id == row.id).values(details=details)
        )
        return _card(conn, project, ref)
