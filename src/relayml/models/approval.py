"""Who may approve or reject a promotion, and the record of a refused attempt.

Three things must hold, in this order, for a decision on a promotion:

1. Into production (the environment or one of its stages, ``production:canary``), nobody decides
   on a version they logged, whatever the policy says; not even an administrator.
2. The decider holds the permission (domain/permissions.py): ``promotion.production`` for a
   promotion into production itself (only ``risk_manager`` has it), ``promotion.decide`` for any
   other. A global administrator (users.is_admin) holds every permission.
3. The decider holds a role the target's approval rules name (an administrator counts for the
   first role still missing), and is not the version's author where the rule says ``not_author``.

A refused attempt writes nothing but its audit entry ("promotion.refused": who, which version,
why), which promotion.decide commits before it raises PermissionDenied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.models import Approval
from relayml.domain.permissions import ACTIONS, allowed, roles_allowed
from relayml.governance import audit
from relayml.models.gates import split_target, waiting_for
from relayml.models.policy import Rules
from relayml.projects.members import roles_of
from relayml.store.schema_identity import users

__all__ = ["Decider", "decider", "record_refusal"]


@dataclass(frozen=True)
class Decider:
    """The role a decision counts for, or why the decider is refused (exactly one is set)."""

    role: str | None = None
    refused: str | None = None


def is_admin(conn: Connection, name: str) -> bool:
    """True when ``name`` is an active global administrator."""
    row = conn.execute(
        select(users.c.is_admin, users.c.disabled_at).where(users.c.name == name)
    ).first()
    return row is not None and bool(row.is_admin) and row.disabled_at is None


def decider(
    conn: Connection,
    pid: int,
    project: str,
    actor: str,
    version: Any,
    ref: str,
    target: str,
    rules: Rules,
    given: list[Approval],
) -> Decider:
    """The role ``actor``'s decision on ``version``'s promotion into ``target`` counts for."""
    environment, _ = split_target(target)
    if environment == "production" and version.created_by == actor:
        return Decider(
            refused=f"{actor} logged {ref} and so may not approve or reject it for production, "
            "whatever the policy says: another person must decide."
        )
    held = roles_of(conn, pid, actor)
    admin = is_admin(conn, actor)
    action = "promotion.production" if target == "production" else "promotion.decide"
    if not allowed(held, action, admin=admin):
        who = ", ".join(roles_allowed(action)) or "admin"
        return Decider(
            refused=f"{actor} may not {ACTIONS[action]} in project {project!r}: that needs the "
            f"role {who}, and {actor} has {', '.join(sorted(held)) or 'no role'} there. A "
            f"project owner can grant it with `relay projects add-member {project} <user> "
            f"{who.split(', ')[0]}`, or someone who holds it decides."
        )
    if not rules.approvals:
        return Decider(role=sorted(held)[0] if held else "admin" if admin else "member")
    named = [r for r in rules.approvals if r.role in held]
    if not named and admin:
        missing = waiting_for(rules, given) or [rules.approvals[0].role]
        return Decider(role=missing[0])
    if not named:
        needed = ", ".join(r.role for r in rules.approvals)
        return Decider(
            refused=f"{actor} cannot decide on {ref} for {target}: the policy asks for the role "
            f"{needed}, and {actor} has {', '.join(sorted(held)) or 'no role'} in the project."
        )
    if all(r.not_author for r in named) and version.created_by == actor:
        return Decider(
            refused=f"{actor} logged {ref} and so cannot approve it: another person holding "
            "the role must decide."
        )
    return Decider(role=named[0].role)


def record_refusal(
    conn: Connection,
    actor: str,
    project: str,
    ref: str,
    target: str,
    decision: str,
    why: str,
) -> None:
    """Audit a refused decision ("promotion.refused") in the caller's transaction."""
    audit.record(
        conn,
        actor=actor,
        action="promotion.refused",
        entity_kind="model_version",
        entity_id=f"{project}/{ref}",
        after={"environment": target, "decision": decision, "why": why},
    )
