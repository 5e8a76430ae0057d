"""Sign-ins for the web pages: passwords checked and audited, and the session's user re-checked.

Every attempt is audited: "auth.sign_in" on success, "auth.sign_in_failed" with the user name and
the reason (never the password; a name that is no user is recorded as a digest, since people
type their password into the name field). A session carries a fingerprint of the user's
credentials, so that a changed password (or a re-linked single sign-on) ends the sessions opened
before.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from relayml.domain.identity import Identity
from relayml.governance import audit
from relayml.identity.passwords import verify_password
from relayml.identity.tokens import verify_token
from relayml.store import Store
from relayml.store.schema_identity import users

__all__ = [
    "audit_sign_in",
    "audit_sign_out",
    "credentials_fingerprint",
    "session_identity",
    "sign_in_password",
    "sign_in_token",
    "unknown_name",
]

_MAX_NAME_IN_AUDIT = 200


def credentials_fingerprint(row: Any) -> str:
    """A short digest of what the user signs in with (changes when the password changes)."""
    material = f"{row.id}|{row.password_hash or ''}|{row.oidc_subject or ''}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def unknown_name(name: str) -> str:
    """How an attempt at a user name that does not exist is recorded: a digest, not the text
    (people type their password into the name field)."""
    return "unknown-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def audit_sign_in(
    store: Store, name: str, *, via: str, address: str, reason: str | None = None
) -> None:
    """Record a sign-in (reason None) or a failed one (with its reason) in the audit log."""
    shown = name[:_MAX_NAME_IN_AUDIT]
    after: dict[str, Any] = {"via": via, "address": address}
    if reason is not None:
        after["reason"] = reason
    with store.write() as conn:
        audit.record(
            conn,
            actor=shown or "anonymous",
            action="auth.sign_in" if reason is None else "auth.sign_in_failed",
            entity_kind="user",
            entity_id=shown,
            after=after,
        )


def audit_sign_out(store: Store, name: str, *, address: str) -> None:
    """Record that a user ended their web session."""
    with store.write() as conn:
        audit.record(
            conn,
            actor=name,
            action="auth.sign_out",
            entity_kind="user",
            entity_id=name,
            after={"address": address},
        )


def sign_in_password(
    store: Store, name: str, password: str, *, address: str
) -> tuple[Identity | None, str, str | None, str]:
    """Check a password sign-in and audit it: (identity or None, fingerprint, failure reason, the
    name as recorded)."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None else None
    matches = verify_password(stored, password)  # the same cost whether or not the user exists
    reason: str | None = None
    if row is None:
        reason = "unknown user"
    elif row.password_hash is None:
        reason = "no password set (single sign-on or token only)"
    elif not matches:
        reason = "wrong password"
    elif row.disabled_at is not None:
        reason = "user disabled"
    shown = name if row is not None else unknown_name(name)
    audit_sign_in(store, shown, via="password", address=address, reason=reason)
    if reason is not None or row is None:
        return None, "", reason, shown
    identity = Identity(name=row.name, is_admin=bool(row.is_admin), via="session")
    return identity, credentials_fingerprint(row), None, shown


def sign_in_token(
    store: Store, secret: str, *, address: str
) -> tuple[Identity | None, str, str | None, str]:
    """Check a sign-in with a personal API token (scope ``api``) and audit it: (identity or
    None, fingerprint, failure reason, the name as recorded)."""
    identity = verify_token(store, secret)
    if identity is None or "api" not in identity.scopes:
        reason = "unknown, revoked or expired token" if identity is None else "not an api token"
        shown = identity.name if identity is not None else "token"
        audit_sign_in(store, shown, via="token", address=address, reason=reason)
        return None, "", reason, shown
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == identity.name)).first()
    audit_sign_in(store, identity.name, via="token", address=address)
    session = Identity(name=identity.name, is_admin=identity.is_admin, via="session")
    return session, credentials_fingerprint(row), None, identity.name


def session_identity(store: Store, name: str, fingerprint: str) -> Identity | None:
    """The identity a session stands for, if its user is still active with the same
    credentials."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None or row.disabled_at is not None:
        return None
    if credentials_fingerprint(row) != fingerprint:
        return None
    return Identity(name=row.name, is_admin=bool(row.is_admin), via="session")
