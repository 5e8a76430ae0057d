"""Who may call the model server: personal API tokens checked against the platform's store.

With auth on (``relay serve --auth``, ``RELAY_SERVE_AUTH``) every inference route needs a bearer
token whose scopes include ``predict`` or ``api``; the outcome route also needs the token's user
to hold ``outcomes.write`` in the served project (``relayml.identity.access.check``).

Why a cache, and how short. A token's check is a join over ``api_tokens`` and ``users``
(``relayml.identity.tokens.verify_token``), run in a worker thread: about 0.25 ms of CPU on an
idle machine with SQLite (plus a round trip on PostgreSQL), while a whole one-row prediction
costs the server 0.2 to 0.6 ms of CPU (benchmarks/RESULTS.md). Measured on a busy 2-core machine
with the churn pipeline of the tests (about 2 ms of server CPU per /predict), checking the store
on every request added about 0.7 ms of server CPU per request (some 30%); with the cache the
added cost was within the noise. So a token that passed is remembered for at most
``RELAY_SERVE_AUTH_CACHE_SECONDS`` (1 s by default, never more; 0 checks the store on every
request). The cache is keyed by the token's SHA-256 (the secret itself is never kept), holds at
most ``MAX_CACHED`` tokens (4096), and remembers only successes: an unknown token is looked up
again each time, and a new token works at once. So a revoked or expired token, or a disabled
user, is refused by every server process sharing the store at most that many seconds later.
"""

from __future__ import annotations

import threading
import time

from relayml.domain.identity import Identity
from relayml.errors import InvalidInput, PermissionDenied, Unauthenticated
from relayml.identity import access
from relayml.identity.tokens import digest, verify_token
from relayml.identity.users import count_users
from relayml.store import Store

__all__ = ["MAX_CACHED", "PREDICT_SCOPES", "TokenCheck", "check_store_has_users"]

PREDICT_SCOPES = frozenset({"predict", "api"})  # either one lets a token call the model
MAX_CACHED = 4096

_MISSING = (
    "this model server requires a token: send `Authorization: Bearer <token>` with a personal "
    "API token that has the predict or api scope (`relay tokens create --scope predict`)."
)
_INVALID = (
    "the token is unknown, revoked or expired, or its user is disabled; create a new one "
    "with `relay tokens create --scope predict`."
)


class TokenCheck:
    """Checks bearer tokens and project roles against a store, with a short cache of tokens."""

    def __init__(
        self, store: Store, *, cache_seconds: float = 1.0, max_entries: int = MAX_CACHED
    ) -> None:
        """``cache_seconds`` (0 to 1): how long a token that passed is trusted without a look;
        ``max_entries``: how many tokens the cache holds at most."""
        if not 0 <= cache_seconds <= 1:
            raise ValueError("cache_seconds is between 0 and 1")
        self.store = store
        self.cache_seconds = cache_seconds
        self.max_entries = max(1, max_entries)
        self._cache: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> Identity | None:
        """The identity of a token that passed (scopes included) less than ``cache_seconds`` ago,
        else None.

        Cheap (a hash and a dict look-up): the server calls it on its event loop, and goes to the
        store (``verify``, in a thread) only when this answers None.
        """
        if self.cache_seconds <= 0:
            return None
        hit = self._cache.get(digest(secret))
        if hit is None or hit[0] <= time.monotonic():
            return None
        return hit[1]

    def verify(self, secret: str | None) -> Identity:
        """The token's identity; Unauthenticated (401) when it is missing or not valid now,
        PermissionDenied (403) when it is valid but for neither predict nor api."""
        if secret is None:
            raise Unauthenticated(_MISSING)
        identity = self.cached(secret)
        if identity is None:
            identity = verify_token(self.store, secret)
            if identity is None:
                raise Unauthenticated(_INVALID)
            if not identity.scopes & PREDICT_SCOPES:
                scopes = ", ".join(sorted(identity.scopes)) or "none"
                raise PermissionDenied(
                    f"the token of {identity.name} has the scopes {scopes}; the model server "
                    "needs predict or api (`relay tokens create --scope predict`)."
                )
            self._remember(digest(secret), identity)
        return identity

    def check(self, identity: Identity, action: str, project: str) -> None:
        """PermissionDenied unless the identity may take ``action`` in ``project`` (no cache:
        these routes are not the hot path, and a removed role counts at once)."""
        access.check(self.store, identity, action, project)

    def _remember(self, key: str, identity: Identity) -> None:
        if self.cache_seconds <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._cache) >= self.max_entries:
                for stale in [k for k, (until, _) in self._cache.items() if until <= now]:
                    del self._cache[stale]
                while len(self._cache) >= self.max_entries:  # all fresh: drop the oldest
                    del self._cache[next(iter(self._cache))]
            self._cache[key] = (now + self.cache_seconds, identity)


def check_store_has_users(store: Store, where: str) -> None:
    """Refuse to start with auth on a store without users: no token could ever pass there."""
    with store.read() as conn:
        if count_users(conn) == 0:
            raise InvalidInput(
                f"--auth checks tokens against the store at {where}, which has no users yet; "
                "point RELAY_DATABASE_URL at the platform's database (where `relay users add` "
                "and `relay tokens create` wrote them), or serve without --auth."
            )
