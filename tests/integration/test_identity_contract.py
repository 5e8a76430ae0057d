"""Users and personal API tokens through the Backend port: SQLite, PostgreSQL and HTTP.

The HTTP server of the `backend` fixture is shared by the session (with auth off or with an
administrator's token): names are unique per test, and each test adds the caller as a user when
they are not one yet.
"""

from __future__ import annotations

import uuid

import pytest

from relayml.domain.ports import Backend
from relayml.errors import Conflict, InvalidInput, NotFound


def unique(prefix: str) -> str:
    """A user name no other test on the shared server uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ensure_me(backend: Backend) -> str:
    """The caller's name, added as an administrator if the store does not know them yet."""
    me = backend.whoami()
    if me.user is None:
        backend.add_user(me.name, admin=True)
    return me.name


def test_whoami_names_the_caller_and_their_roles(backend: Backend) -> None:
    name = ensure_me(backend)
    project = unique("p")
    backend.create_project(project)
    backend.add_member(project, name, "auditor")
    me = backend.whoami()
    assert me.name == name
    assert me.is_admin
    assert me.user is not None and me.user.name == name
    assert "auditor" in me.roles[project]


def test_users_are_added_listed_disabled_enabled_and_made_admin(backend: Backend) -> None:
    ensure_me(backend)
    name = unique("ann")
    added = backend.add_user(
        name, display_name="Ann Lee", email="ann@example.org", password="a long passphrase"
    )
    assert (added.name, added.display_name, added.email) == (name, "Ann Lee", "ann@example.org")
    assert added.has_password and not added.is_admin and added.active
    assert name in [u.name for u in backend.list_users()]
    assert backend.get_user(name) == added
    assert not backend.disable_user(name).active
    assert backend.enable_user(name).active
    assert backend.set_admin(name, True).is_admin
    assert not backend.set_admin(name, False).is_admin
    assert not backend.set_password(name, None).has_password


def test_bad_users_are_refused_and_nothing_is_stored(backend: Backend) -> None:
    ensure_me(backend)
    name = unique("bob")
    backend.add_user(name)
    with pytest.raises(Conflict, match="already exists"):
        backend.add_user(name)
    short = unique("carol")
    with pytest.raises(InvalidInput, match="at least 12 characters"):
        backend.add_user(short, password="short")
    with pytest.raises(InvalidInput, match="e-mail"):
        backend.add_user(short, email="not an address")
    with pytest.raises(InvalidInput, match="not allowed"):
        backend.add_user("../etc")
    assert short not in [u.name for u in backend.list_users()]
    with pytest.raises(NotFound, match="relay users list"):
        backend.get_user(unique("nobody"))


def test_tokens_are_created_listed_and_revoked(backend: Backend) -> None:
    me = ensure_me(backend)
    other = unique("svc")
    backend.add_user(other)
    own = backend.create_token("laptop", expires_in_days=30)
    assert own.token.user == me and own.secret.startswith("relay_")
    assert own.secret.startswith(own.token.prefix) and own.token.expires_at is not None
    theirs = backend.create_token("scoring", user=other, scopes=["predict"], expires_in_days=None)
    assert theirs.token.user == other and theirs.token.scopes == ["predict"]
    assert theirs.token.expires_at is None
    assert own.token.id in [t.id for t in backend.list_tokens()]
    listed = backend.list_tokens(other)
    assert [t.id for t in listed] == [theirs.token.id]
    assert "secret" not in listed[0].model_dump()
    revoked = backend.revoke_token(theirs.token.id)
    assert revoked.revoked_at is not None
    assert backend.list_tokens(other)[0].revoked_at is not None


def test_bad_tokens_are_refused(backend: Backend) -> None:
    ensure_me(backend)
    other = unique("dan")
    backend.add_user(other)
    with pytest.raises(InvalidInput, match="scopes are api, predict"):
        backend.create_token("x", user=other, scopes=["root"])
    with pytest.raises(InvalidInput, match="days"):
        backend.create_token("x", user=other, expires_in_days=100_000)
    with pytest.raises(NotFound, match="relay users list"):
        backend.create_token("x", user=unique("ghost"))
    for unknown in (987_654_321, 2**31, 2**63 - 1, -1, 0):
        with pytest.raises(NotFound, match="no token"):
            backend.revoke_token(unknown)
    backend.disable_user(other)
    with pytest.raises(InvalidInput, match="disabled"):
        backend.create_token("x", user=other)
    assert backend.list_tokens(other) == []
