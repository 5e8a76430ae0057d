"""Users: add, list, disable, passwords and the administrator flag; every change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from relayml.domain.identity import Identity, User
from relayml.domain.validation import check_name, datetime_from_ms
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.governance import audit
from relayml.identity.passwords import hash_password, verify_password
from relayml.store import Store, now_ms
from relayml.store.schema_identity import users

__all__ = [
    "add_user",
    "authenticate_password",
    "count_users",
    "disable_user",
    "enable_user",
    "get_user",
    "list_users",
    "set_admin",
    "set_password",
    "to_user",
    "user_row",
]


def to_user(row: Any) -> User:
    """A users row as the entity."""
    return User(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        email=row.email,
        is_admin=bool(row.is_admin),
        has_password=row.password_hash is not None,
        single_sign_on=row.oidc_subject is not None,
        created_at=datetime_from_ms(row.created_at),
        disabled_at=datetime_from_ms(row.disabled_at),
    )


def user_row(conn: Connection, name: str) -> Any:
    """The users row of a name, or NotFound."""
    row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user {name!r}; `relay users list` shows who exists.")
    return row


def count_users(conn: Connection) -> int:
    """How many users exist (0 on a server's first start)."""
    return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def _check_email(email: str) -> str:
    if email and ("@" not in email or len(email) > 320 or any(c.isspace() for c in email)):
        raise InvalidInput(f"{email!r} is not an e-mail address (name@example.org).")
    return email


def add_user(
    store: Store,
    actor: str,
    name: str,
    *,
    display_name: str = "",
    email: str = "",
    admin: bool = False,
    password: str | None = None,
    oidc_subject: str | None = None,
) -> User:
    """Create a user (names are the ones project roles and the audit log use)."""
    check_name(name, "user")
    _check_email(email)
    if len(display_name) > 200:
        raise InvalidInput("a display name has at most 200 characters.")
    hashed = hash_password(password) if password is not None else None
    with store.write() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first():
            raise Conflict(f"user {name!r} already exists.")
        conn.execute(
            users.insert().values(
                name=name,
                display_name=display_name,
                email=email,
                is_admin=admin,
                password_hash=hashed,
                oidc_subject=oidc_subject,
                created_by=actor,
                created_at=now_ms(),
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="user.add",
            entity_kind="user",
            entity_id=name,
            after={
                "display_name": display_name,
                "email": email,
                "admin": admin,
                "password": hashed is not None,
                "single_sign_on": oidc_subject is not None,
            },
        )
        return to_user(user_row(conn, name))


def get_user(store: Store, name: str) -> User:
    """One user by name."""
    with store.read() as conn:
        return to_user(user_row(conn, name))


def list_users(store: Store) -> list[User]:
    """Every user, by name."""
    with store.read() as conn:
        return [to_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def _change(
    store: Store, actor: str, name: str, action: str, values: dict[str, Any], note: dict[str, Any]
) -> User:
    with store.write() as conn:
        row = user_row(conn, name)
        conn.execute(update(users).where(users.c.id == row.id).values(**values))
        audit.record(
            conn, actor=actor, action=action, entity_kind="user", entity_id=name, after=note
        )
        return to_user(user_row(conn, name))


def disable_user(store: Store, actor: str, name: str) -> User:
    """Stop a user from signing in; their tokens fail from the next request on."""
    if name == actor:
        raise InvalidInput("you cannot disable yourself; ask another administrator.")
    return _change(store, actor, name, "user.disable", {"disabled_at": now_ms()}, {})


def enable_user(store: Store, actor: str, name: str) -> User:
    """Let a disabled user sign in again."""
    return _change(store, actor, name, "user.enable", {"disabled_at": None}, {})


def set_admin(store: Store, actor: str, name: str, admin: bool) -> User:
    """Make a user a global administrator, or take it back (a permission change: audited)."""
    if name == actor and not admin:
        raise InvalidInput("you cannot take your own administrator role; ask another one.")
    return _change(store, actor, name, "user.set_admin", {"is_admin": admin}, {"admin": admin})


def set_password(store: Store, actor: str, name: str, password: str | None) -> User:
    """Set (or with None remove) a user's password; only the Argon2 hash is stored."""
    hashed = hash_password(password) if password is not None else None
    note = {"password": hashed is not None}
    return _change(store, actor, name, "user.set_password", {"password_hash": hashed}, note)


def authenticate_password(store: Store, name: str, password: str) -> Identity | None:
    """The identity of an active user whose password matches, else None (same cost either way)."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None else None
    if not verify_password(stored, password) or row is None or row.disabled_at is not None:
        return None
    return Identity(name=row.name, is_admin=bool(row.is_admin), via="password")
