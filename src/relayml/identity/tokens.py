"""Personal API tokens: random secrets shown once, stored as SHA-256, with expiry and revocation.

A token is checked against the database on every request (no cache), so a revocation or a
disabled user takes effect at once on every server process that shares the database. The check
is one prebuilt statement (every authenticated request runs it).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from relayml.domain.identity import SCOPES, Identity, TokenInfo
from relayml.domain.validation import check_name, datetime_from_ms
from relayml.errors import InvalidInput, NotFound
from relayml.governance import audit
from relayml.identity.users import user_row
from relayml.store import Store, now_ms
from relayml.store.fast import FastStatement
from relayml.store.schema_identity import api_tokens, users

__all__ = [
    "PREFIX",
    "create_token",
    "digest",
    "list_tokens",
    "looks_like_token",
    "revoke_token",
    "verify_token",
]

PREFIX = "relay_"  # every token starts so: secret scanners and people can tell one
_LAST_USED_EVERY_MS = 60_000  # last_used_at is written at most once a minute per token
MAX_DAYS = 3650

# The live token with a hash: not revoked, not expired at :now, its user not disabled.
_VERIFY = FastStatement(
    select(
        api_tokens.c.id,
        api_tokens.c.scopes,
        api_tokens.c.last_used_at,
        users.c.name,
        users.c.is_admin,
    )
    .join(users, users.c.id == api_tokens.c.user_id)
    .where(
        api_tokens.c.token_hash == bindparam("token_hash"),
        api_tokens.c.revoked_at.is_(None),
        or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > bindparam("now")),
        users.c.disabled_at.is_(None),
    )
)


def digest(secret: str) -> str:
    """What the database keeps of a token: its SHA-256 (the secret has 256 random bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """True for a string shaped like one of our tokens."""
    return value.startswith(PREFIX) and 20 <= len(value) <= 100


def _info(row: Any, user: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=user,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        created_at=datetime_from_ms(row.created_at),
        expires_at=datetime_from_ms(row.expires_at),
        revoked_at=datetime_from_ms(row.revoked_at),
        last_used_at=datetime_from_ms(row.last_used_at),
    )


def _check_scopes(scopes: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        raise InvalidInput(f"scopes are {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}.")
    return wanted


def create_token(
    store: Store,
    actor: str,
    user: str,
    name: str,
    *,
    scopes: Sequence[str] = ("api",),
    expires_in_days: float | None = 90,
) -> tuple[TokenInfo, str]:
    """A new token for ``user``: (its listing, its secret). The secret is never stored or shown
    again."""
    check_name(name, "token")
    wanted = _check_scopes(scopes)
    if expires_in_days is not None and not 0 < expires_in_days <= MAX_DAYS:
        raise InvalidInput(f"a token lives between a moment and {MAX_DAYS} days.")
    secret = PREFIX + secrets.token_urlsafe(32)
    created = now_ms()
    expires = None if expires_in_days is None else created + int(expires_in_days * 86_400_000)
    with store.write() as conn:
        owner = user_row(conn, user)
        if owner.disabled_at is not None:
            raise InvalidInput(f"user {user!r} is disabled; enable them first.")
        result = conn.execute(
            api_tokens.insert().values(
                user_id=owner.id,
                name=name,
                token_hash=digest(secret),
                prefix=secret[: len(PREFIX) + 6],
                scopes=wanted,
                created_at=created,
                expires_at=expires,
            )
        )
        assert result.inserted_primary_key is not None
        token_id = int(result.inserted_primary_key[0])
        audit.record(
            conn,
            actor=actor,
            action="token.create",
            entity_kind="user",
            entity_id=user,
            after={"token_id": token_id, "name": name, "scopes": wanted, "expires_at": expires},
        )
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
        return _info(row, user), secret


def list_tokens(store: Store, user: str | None = None) -> list[TokenInfo]:
    """The tokens of one user (or of everyone), newest first; revoked ones included."""
    query = select(api_tokens, users.c.name.label("user_name")).join(
        users, users.c.id == api_tokens.c.user_id
    )
    if user is not None:
        query = query.where(users.c.name == user)
    with store.read() as conn:
        if user is not None:
            user_row(conn, user)
        rows = conn.execute(query.order_by(api_tokens.c.id.desc())).all()
    return [_info(row, row.user_name) for row in rows]


def revoke_token(store: Store, actor: str, token_id: int, *, user: str | None = None) -> TokenInfo:
    """Revoke a token at once; with ``user``, only one of that user's own tokens."""
    if not 0 < token_id < 2**31:  # the id column's range (PostgreSQL refuses larger values)
        raise NotFound(f"no token {token_id}; `relay tokens list` shows yours.")
    with store.write() as conn:
        row = conn.execute(
            select(api_tokens, users.c.name.label("user_name"))
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.id == token_id)
        ).first()
        if row is None or (user is not None and row.user_name != user):
            raise NotFound(f"no token {token_id}; `relay tokens list` shows yours.")
        if row.revoked_at is None:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now_ms())
            )
            audit.record(
                conn,
                actor=actor,
                action="token.revoke",
                entity_kind="user",
                entity_id=row.user_name,
                after={"token_id": token_id, "name": row.name},
            )
        fresh = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
        return _info(fresh, row.user_name)


def verify_token(store: Store, secret: str) -> Identity | None:
    """The identity a token stands for, or None when it is unknown, revoked, expired or its user
    is disabled."""
    if not looks_like_token(secret):
        return None
    now = now_ms()
    with store.read() as conn:
        row = _VERIFY.first(conn, {"token_hash": digest(secret), "now": now})
    if row is None:
        return None
    token_id, scopes, last_used_at, name, is_admin = row
    if isinstance(scopes, str | bytes):  # a JSON column as SQLite's driver gives it: text
        scopes = json.loads(scopes)
    if last_used_at is None or now - last_used_at > _LAST_USED_EVERY_MS:
        with store.write() as conn:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
            )
    return Identity(name=name, is_admin=bool(is_admin), scopes=frozenset(scopes), via="token")
