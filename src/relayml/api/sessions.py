"""Sessions for the web pages: a signed cookie, its CSRF token, and the identity it carries.

The cookie (``relay_session``) is signed with itsdangerous (key: RELAY_SESSION_SECRET, else a key
generated once into $RELAY_HOME/session.key with mode 0600) and holds the user name, a session
id, the session's CSRF token and a fingerprint of the user's credentials; it is HttpOnly,
SameSite=Lax, Secure when the request came over https, and lasts ``session_max_age`` seconds.
Every request re-reads the user: a disabled user or a changed password ends the session at once.
Sessions are stateless: signing out clears the cookie in that browser; to end every session of a
user, disable them or change their password.

CSRF: a request with an unsafe method (POST, PUT, PATCH, DELETE) that the session cookie
authenticates must carry the session's token in the ``X-CSRF-Token`` header or a ``csrf_token``
form field, else 403. Pages embed it with :func:`csrf_token`. Bearer-token requests need none,
and neither does ``POST /auth/sign-in`` itself (it starts a new session; SameSite=Lax keeps
other sites' forms from carrying the cookie on a POST anyway).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from relayml.api.asgi import replaying
from relayml.config import Settings
from relayml.domain.identity import Identity
from relayml.errors import PermissionDenied, Unauthenticated
from relayml.identity.signin_limit import SignInLimiter
from relayml.identity.signins import session_identity, sign_in_password, sign_in_token
from relayml.store import Store

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CsrfFormField",
    "SessionManager",
    "TooManyAttempts",
    "client_address",
    "csrf_token",
    "session_key",
    "sign_in_checked",
]

COOKIE = "relay_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_FILE = "session.key"
_FORM_LIMIT = 1024 * 1024  # the largest form body read for its csrf_token field
log = logging.getLogger("relayml.api")


def session_key(settings: Settings) -> str:
    """The key that signs session cookies: the setting, else $RELAY_HOME/session.key (made once,
    mode 0600, shared by every worker on this machine)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    path = Path(settings.home) / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_urlsafe(48))
    try:
        os.link(temporary, path)  # atomic; another worker that won the race keeps its key
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text(encoding="ascii").strip()


class SessionManager:
    """Issues, reads and clears session cookies for one app."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.max_age = settings.session_max_age
        self._serializer: URLSafeTimedSerializer | None = None

    @property
    def serializer(self) -> URLSafeTimedSerializer:
        """The signer (its key is read or made on first use)."""
        if self._serializer is None:
            self._serializer = URLSafeTimedSerializer(session_key(self.settings), "relay-session")
        return self._serializer

    def payload(self, request: Request) -> dict[str, Any] | None:
        """The valid session the request's cookie holds, or None."""
        cached = request.scope.get("relay.session", False)
        if cached is not False:
            return cached  # type: ignore[no-any-return]
        value = request.cookies.get(COOKIE)
        data: dict[str, Any] | None = None
        if value:
            try:
                loaded = self.serializer.loads(value, max_age=self.max_age)
            except BadSignature:  # also SignatureExpired
                loaded = None
            if isinstance(loaded, dict) and {"u", "sid", "csrf", "fp"} <= loaded.keys():
                data = loaded
        request.scope["relay.session"] = data
        return data

    def start(
        self, request: Request, response: Response, identity: Identity, fp: str, csrf: str
    ) -> None:
        """Set a new session cookie for ``identity`` (credentials' fingerprint ``fp``, CSRF token
        ``csrf``) on the response."""
        data = {"u": identity.name, "sid": secrets.token_urlsafe(16), "csrf": csrf, "fp": fp}
        response.set_cookie(
            COOKIE,
            self.serializer.dumps(data),
            max_age=self.max_age,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        request.scope["relay.session"] = data

    def clear(self, request: Request, response: Response) -> None:
        """Remove the session cookie."""
        response.delete_cookie(
            COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
        )

    def identity(self, request: Request) -> Identity | None:
        """The session's identity (the hook api/auth.py calls without a bearer token); raises
        PermissionDenied for an unsafe method without the session's CSRF token."""
        data = self.payload(request)
        if data is None:
            return None
        found = session_identity(self.store, str(data["u"]), str(data["fp"]))
        if found is None:
            return None
        if request.method in UNSAFE:
            sent = request.headers.get(CSRF_HEADER) or request.scope.get("relay.csrf_form") or ""
            if not hmac.compare_digest(str(sent).encode(), str(data["csrf"]).encode()):
                raise PermissionDenied(
                    "this request changes something and came with a session cookie but without "
                    "the session's CSRF token; send it in the X-CSRF-Token header or a "
                    "csrf_token form field (pages embed it), or use an API token instead."
                )
        return found


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the request's session, for a page to embed (None: no session)."""
    manager: SessionManager | None = getattr(request.app.state, "sessions", None)
    if manager is None:
        return None
    data = manager.payload(request)
    return str(data["csrf"]) if data else None


class CsrfFormField:
    """ASGI middleware: reads the ``csrf_token`` field of an urlencoded form that a session
    cookie sends with an unsafe method, for the CSRF check (the body is passed on unchanged)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        length = headers.get(b"content-length", b"")
        if (
            kind != b"application/x-www-form-urlencoded"
            or b"authorization" in headers
            or COOKIE.encode() not in headers.get(b"cookie", b"")
            or not length.isdigit()
            or int(length) > _FORM_LIMIT
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        fields = parse_qs(body.decode("latin-1"), max_num_fields=1000)
        if fields.get(CSRF_FIELD):
            scope["relay.csrf_form"] = fields[CSRF_FIELD][0]
        await self.app(scope, replaying(body, receive), send)


def client_address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: uvicorn --proxy-headers)."""
    return request.client.host if request.client else "unknown"


class TooManyAttempts:
    """A sign-in refused by the failure limit: the message and the seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        self.message = (
            f"too many failed sign-ins for this user or from this address; try again in "
            f"{retry_after} seconds."
        )


async def sign_in_checked(
    request: Request, user: str, *, password: str | None = None, token: str | None = None
) -> tuple[Identity, str] | TooManyAttempts:
    """Check a sign-in by password (``user`` + ``password``) or by personal API token, under
    the failure limit: (identity, credentials fingerprint) for a session, TooManyAttempts, or
    Unauthenticated raised."""
    address = client_address(request)
    limiter: SignInLimiter = request.app.state.signin_limiter
    name = user or "token"
    wait = limiter.retry_after(name, address)
    if wait is not None:
        log.warning("sign-in refused: too many failures (from %s)", address)
        return TooManyAttempts(wait)
    store = request.app.state.backend.store
    if token is not None:
        identity, fingerprint, reason, shown = await run_in_threadpool(
            sign_in_token, store, token, address=address
        )
    else:
        identity, fingerprint, reason, shown = await run_in_threadpool(
            sign_in_password, store, user, password or "", address=address
        )
    if identity is None:
        limiter.failed(name, address)
        log.info("sign-in failed for %s from %s: %s", shown, address, reason)
        if token is not None:
            raise Unauthenticated(
                "that token is unknown, revoked, expired, of a disabled user or not for the API; "
                "make a new one with `relay tokens create`."
            )
        raise Unauthenticated(
            "wrong user name or password (or the user is disabled); an administrator can set "
            "a password with `relay users password NAME`."
        )
    limiter.succeeded(name)
    return identity, fingerprint
