"""Single sign-on's effect on the store: an identity provider's claims become a user and roles.

The user is found by ``oidc_subject`` (issuer + "|" + sub) and kept up to date (display name,
e-mail). A new subject whose user name is taken links to that user only when it has no single
sign-on yet and the same e-mail; otherwise the sign-in is refused (no account takeover by a
chosen name). The role map (``RELAY_OIDC_ROLE_MAP``) manages exactly the (project, role) pairs it
names, and the administrator flag if it names "admin": at each sign-in those follow the user's
groups; roles granted by hand outside the map are left alone. Each change is audited.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from relayml.domain.identity import Identity
from relayml.domain.roles import ROLES
from relayml.errors import Conflict, InvalidInput
from relayml.governance import audit
from relayml.identity.signins import credentials_fingerprint
from relayml.store import Store, now_ms
from relayml.store.schema import project_members, projects
from relayml.store.schema_identity import users

__all__ = ["ADMIN", "RoleMap", "groups_of", "parse_role_map", "sign_in_from_claims", "user_name"]

log = logging.getLogger("relayml.identity")

ADMIN = "admin"
ACTOR = "single-sign-on"
# group -> what it grants: (project, role) pairs, or (None, "admin")
RoleMap = dict[str, list[tuple[str | None, str]]]
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def parse_role_map(raw: Mapping[str, Sequence[str]]) -> RoleMap:
    """Check a role map {group: ["project:role" | "admin", ...]} (InvalidInput naming the bad
    entry)."""
    parsed: RoleMap = {}
    for group, grants in raw.items():
        if isinstance(grants, str):
            grants = [grants]
        entries: list[tuple[str | None, str]] = []
        for grant in grants:
            if grant == ADMIN:
                entries.append((None, ADMIN))
                continue
            project, _, role = str(grant).rpartition(":")
            if not project or role not in ROLES:
                raise InvalidInput(
                    f"RELAY_OIDC_ROLE_MAP: group {group!r} grants {grant!r}; write 'project:role' "
                    f"(roles: {', '.join(ROLES)}) or 'admin'."
                )
            entries.append((project, role))
        parsed[str(group)] = entries
    return parsed


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The user's groups from a claim holding a list (or a space- or comma-separated string)."""
    value = claims.get(claim)
    if value is None:
        return []
    if isinstance(value, str):
        return [g for g in re.split(r"[\s,]+", value) if g]
    if isinstance(value, list | tuple):
        return [str(g) for g in value]
    return []


def user_name(claims: Mapping[str, Any]) -> str:
    """The user name for a new single sign-on user: preferred_username, the e-mail's local part,
    or the subject, reduced to the characters names allow."""
    email = str(claims.get("email") or "")
    for candidate in (claims.get("preferred_username"), email.split("@")[0], claims.get("sub")):
        name = _NOT_NAME.sub("-", str(candidate or "")).strip("-.")[:200]
        if name and name[0].isalnum():
            return name
    raise InvalidInput("the identity provider sent no usable name (preferred_username or sub).")


def _find_user(conn: Connection, subject: str, claims: Mapping[str, Any]) -> tuple[Any, bool]:
    """(the users row for the subject or None, whether it was linked just now)."""
    row = conn.execute(select(users).where(users.c.oidc_subject == subject)).first()
    if row is not None:
        return row, False
    name = user_name(claims)
    taken = conn.execute(select(users).where(users.c.name == name)).first()
    if taken is None:
        return None, False
    email = str(claims.get("email") or "")
    verified = claims.get("email_verified", True) is not False
    if taken.oidc_subject is None and email and verified and taken.email.lower() == email.lower():
        conn.execute(update(users).where(users.c.id == taken.id).values(oidc_subject=subject))
        audit.record(
            conn, actor=ACTOR, action="user.link_sso", entity_kind="user", entity_id=name,
            after={"oidc_subject": subject},
        )  # fmt: skip
        return conn.execute(select(users).where(users.c.id == taken.id)).one(), True
    raise Conflict(
        f"single sign-on: the user name {name!r} is taken by another user. An administrator can "
        f"set that user's e-mail to the provider's ({email or 'none sent'}) to link them, or "
        "rename one of them."
    )


def _apply_roles(conn: Connection, name: str, groups: list[str], role_map: RoleMap) -> bool | None:
    """Grant and take back the mapped project roles; the admin flag wanted (None: unmanaged)."""
    managed = {pair for grants in role_map.values() for pair in grants}
    wanted = {pair for g in groups for pair in role_map.get(g, [])}
    for project, role in sorted((p for p in managed if p[0] is not None), key=str):
        pid = conn.execute(select(projects.c.id).where(projects.c.name == project)).scalar()
        if pid is None:
            log.warning("RELAY_OIDC_ROLE_MAP names project %r, which does not exist", project)
            continue
        where = (
            (project_members.c.project_id == pid)
            & (project_members.c.user == name)
            & (project_members.c.role == role)
        )
        held = conn.execute(select(project_members.c.role).where(where)).first() is not None
        note = {"user": name, "role": role, "source": "single sign-on", "groups": groups}
        if (project, role) in wanted and not held:
            conn.execute(
                project_members.insert().values(
                    project_id=pid, user=name, role=role, added_at=now_ms()
                )
            )
            audit.record(
                conn, actor=ACTOR, action="project.add_member", entity_kind="project",
                entity_id=str(project), after=note,
            )  # fmt: skip
        elif (project, role) not in wanted and held:
            conn.execute(delete(project_members).where(where))
            audit.record(
                conn, actor=ACTOR, action="project.remove_member", entity_kind="project",
                entity_id=str(project), before=note,
            )  # fmt: skip
    if (None, ADMIN) not in managed:
        return None
    return (None, ADMIN) in wanted


def sign_in_from_claims(
    store: Store,
    issuer: str,
    claims: Mapping[str, Any],
    *,
    groups_claim: str,
    role_map: RoleMap,
    address: str,
) -> tuple[Identity | None, str]:
    """Create or update the user the claims describe, apply the role map, audit the sign-in:
    (identity, or None for a disabled user; the credentials' fingerprint)."""
    sub = str(claims.get("sub") or "")
    if not sub:
        raise InvalidInput("the identity provider's token has no subject ('sub' claim).")
    subject = f"{issuer.rstrip('/')}|{sub}"[:300]
    display = str(claims.get("name") or "")[:200]
    email = str(claims.get("email") or "")[:320]
    groups = groups_of(claims, groups_claim)
    with store.write() as conn:
        row, _linked = _find_user(conn, subject, claims)
        if row is None:
            name = user_name(claims)
            conn.execute(
                users.insert().values(
                    name=name, display_name=display, email=email, is_admin=False,
                    oidc_subject=subject, created_by=ACTOR, created_at=now_ms(),
                )
            )  # fmt: skip
            audit.record(
                conn, actor=ACTOR, action="user.add", entity_kind="user", entity_id=name,
                after={"display_name": display, "email": email, "single_sign_on": True},
            )  # fmt: skip
            row = conn.execute(select(users).where(users.c.name == name)).one()
        elif (row.display_name, row.email) != (display or row.display_name, email or row.email):
            after = {"display_name": display or row.display_name, "email": email or row.email}
            conn.execute(update(users).where(users.c.id == row.id).values(**after))
            audit.record(
                conn, actor=ACTOR, action="user.update", entity_kind="user", entity_id=row.name,
                before={"display_name": row.display_name, "email": row.email}, after=after,
            )  # fmt: skip
        if row.disabled_at is not None:
            audit.record(
                conn, actor=row.name, action="auth.sign_in_failed", entity_kind="user",
                entity_id=row.name,
                after={"via": "oidc", "address": address, "reason": "user disabled"},
            )  # fmt: skip
            return None, ""
        admin = _apply_roles(conn, row.name, groups, role_map)
        if admin is not None and admin != bool(row.is_admin):
            conn.execute(update(users).where(users.c.id == row.id).values(is_admin=admin))
            audit.record(
                conn, actor=ACTOR, action="user.set_admin", entity_kind="user",
                entity_id=row.name, after={"admin": admin, "source": "single sign-on"},
            )  # fmt: skip
        audit.record(
            conn, actor=row.name, action="auth.sign_in", entity_kind="user", entity_id=row.name,
            after={"via": "oidc", "address": address, "groups": groups},
        )  # fmt: skip
        fresh = conn.execute(select(users).where(users.c.id == row.id)).one()
    identity = Identity(name=fresh.name, is_admin=bool(fresh.is_admin), via="session")
    return identity, credentials_fingerprint(fresh)
