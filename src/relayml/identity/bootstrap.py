"""A server's first start: with no users yet, create the administrator and their first token.

There is no default password anywhere. The token is either made here and shown once (the caller
prints it to the terminal), or given by the operator's automation (RELAY_BOOTSTRAP_TOKEN) and
stored hashed like any other token.
"""

from __future__ import annotations

from sqlalchemy import select

from relayml.errors import Conflict, InvalidInput
from relayml.governance import audit
from relayml.identity.tokens import PREFIX, create_token, digest
from relayml.identity.users import add_user, count_users, user_row
from relayml.store import Store, now_ms
from relayml.store.schema_identity import api_tokens

__all__ = ["BOOTSTRAP_TOKEN_NAME", "bootstrap_admin", "check_bootstrap_token"]

BOOTSTRAP_TOKEN_NAME = "bootstrap"
_MIN_SECRET = 32  # characters after the prefix
_ACTOR = "relay-server"  # who the audit log says created the first administrator


def check_bootstrap_token(secret: str) -> str:
    """The secret, if it looks like a relay token (``relay_`` and 32+ characters); else
    InvalidInput that says how to make one."""
    body = secret[len(PREFIX) :]
    if not secret.startswith(PREFIX) or len(body) < _MIN_SECRET or len(secret) > 100:
        raise InvalidInput(
            "RELAY_BOOTSTRAP_TOKEN must look like a relay token: 'relay_' followed by 32 to 94 "
            "random characters, e.g. the output of "
            "`python -c \"import secrets; print('relay_' + secrets.token_urlsafe(32))\"`."
        )
    if any(c.isspace() for c in secret):
        raise InvalidInput("RELAY_BOOTSTRAP_TOKEN may not contain spaces or line breaks.")
    return secret


def _store_secret(store: Store, user: str, secret: str) -> None:
    with store.write() as conn:
        owner = user_row(conn, user)
        result = conn.execute(
            api_tokens.insert().values(
                user_id=owner.id,
                name=BOOTSTRAP_TOKEN_NAME,
                token_hash=digest(secret),
                prefix=secret[: len(PREFIX) + 6],
                scopes=["api"],
                created_at=now_ms(),
                expires_at=None,
            )
        )
        assert result.inserted_primary_key is not None
        audit.record(
            conn,
            actor=_ACTOR,
            action="token.create",
            entity_kind="user",
            entity_id=user,
            after={
                "token_id": int(result.inserted_primary_key[0]),
                "name": BOOTSTRAP_TOKEN_NAME,
                "scopes": ["api"],
                "expires_at": None,
            },
        )


def bootstrap_admin(store: Store, name: str, secret: str | None = None) -> str | None:
    """On a store without users: create the administrator ``name`` with a token.

    Returns the secret to show once when this call made one; None when users existed already or
    when ``secret`` (the operator's own, from RELAY_BOOTSTRAP_TOKEN) was stored instead.
    """
    if secret is not None:
        check_bootstrap_token(secret)
    with store.read() as conn:
        if count_users(conn) > 0:
            return None
    try:
        add_user(store, _ACTOR, name, display_name="first administrator", admin=True)
    except Conflict:  # another server process bootstrapped the same store at the same moment
        return None
    if secret is not None:
        with store.read() as conn:
            known = conn.execute(
                select(api_tokens.c.id).where(api_tokens.c.token_hash == digest(secret))
            ).first()
        if known is None:
            _store_secret(store, name, secret)
        return None
    _, made = create_token(
        store, _ACTOR, name, BOOTSTRAP_TOKEN_NAME, scopes=("api",), expires_in_days=None
    )
    return made
