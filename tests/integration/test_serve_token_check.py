"""The model server's token check on a real store: what it accepts, forgets and never keeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relayml.errors import InvalidInput, PermissionDenied, Unauthenticated
from relayml.identity.tokens import create_token, digest, revoke_token
from relayml.identity.users import add_user, disable_user
from relayml.projects.members import add_member
from relayml.projects.service import create_project
from relayml.serving.auth import TokenCheck, check_store_has_users
from relayml.store import Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    found = Store(store_url)
    yield found
    found.dispose()


def test_no_token_a_wrong_one_or_a_revoked_one_is_unauthenticated(store: Store) -> None:
    add_user(store, "root", "app")
    info, secret = create_token(store, "root", "app", "t", scopes=["predict"])
    check = TokenCheck(store, cache_seconds=0)
    assert check.verify(secret).name == "app"
    for bad in (None, "", "relay_" + "x" * 43, secret + "x", "Bearer " + secret):
        with pytest.raises(Unauthenticated, match="token"):
            check.verify(bad)
    revoke_token(store, "root", info.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        check.verify(secret)


def test_a_disabled_user_is_refused_at_once_without_the_cache(store: Store) -> None:
    add_user(store, "root", "app")
    _, secret = create_token(store, "root", "app", "t", scopes=["api"])
    check = TokenCheck(store, cache_seconds=0)
    assert check.verify(secret).scopes == frozenset({"api"})
    assert check.cached(secret) is None  # 0 s: nothing is remembered
    disable_user(store, "root", "app")
    with pytest.raises(Unauthenticated):
        check.verify(secret)


def test_the_cache_is_keyed_by_the_hash_and_bounded(store: Store) -> None:
    add_user(store, "root", "app")
    secrets = [create_token(store, "root", "app", f"t{i}", scopes=["predict"])[1] for i in range(5)]
    check = TokenCheck(store, cache_seconds=1, max_entries=2)
    for secret in secrets:
        assert check.verify(secret).name == "app"
    kept = list(check._cache)
    assert len(kept) == 2
    assert kept == [digest(s) for s in secrets[-2:]]  # the newest two
    assert not any(secret in key or key in secret for secret in secrets for key in kept)
    assert check.cached(secrets[-1]) is not None and check.cached(secrets[0]) is None
    with pytest.raises(ValueError):
        TokenCheck(store, cache_seconds=2)


def test_roles_are_checked_in_the_project(store: Store, tmp_path: Path) -> None:
    create_project(store, "root", "churn")
    for name in ("app", "sam"):
        add_user(store, "root", name)
    add_member(store, "root", "churn", "sam", "software_engineer")
    check = TokenCheck(store)
    app = check.verify(create_token(store, "root", "app", "t", scopes=["predict"])[1])
    sam = check.verify(create_token(store, "root", "sam", "t", scopes=["predict"])[1])
    check.check(sam, "outcomes.write", "churn")
    with pytest.raises(PermissionDenied, match="outcomes"):
        check.check(app, "outcomes.write", "churn")


def test_a_store_without_users_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput, match="no users"):
        check_store_has_users(store, "the test store")
    add_user(store, "root", "ann")
    check_store_has_users(store, "the test store")


def test_an_expired_token_is_refused_even_with_the_cache(store: Store) -> None:
    add_user(store, "root", "app")
    # a lifetime that rounds to 0 ms: the token is expired from the moment it exists
    _, secret = create_token(store, "root", "app", "t", scopes=["predict"], expires_in_days=1e-9)
    check = TokenCheck(store, cache_seconds=1)
    with pytest.raises(Unauthenticated, match="expired"):
        check.verify(secret)
    assert check.cached(secret) is None  # a failure is never remembered
