"""Routes of identity: who am I, users (administrators), personal API tokens, password sign-in.

Under /api/v1: ``GET /me``; ``/users...`` for administrators; ``/tokens...`` for one's own tokens
(an administrator may revoke anyone's) and ``/users/{name}/tokens`` for anyone's. At the root:
``POST /auth/sign-in`` and ``POST /auth/sign-out`` for the web pages' sessions (api/sessions.py).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import requires
from relayml.api.responses import error_body, ok
from relayml.api.sessions import SessionManager, TooManyAttempts, client_address, sign_in_checked
from relayml.domain.identity import Identity, Me, NewToken, TokenInfo, User
from relayml.domain.permissions import ADMIN_ONLY, PUBLIC, SIGNED_IN
from relayml.errors import InvalidInput
from relayml.identity import tokens as token_service
from relayml.identity import users as user_service
from relayml.identity.local import describe
from relayml.identity.signins import audit_sign_out
from relayml.store import Store

__all__ = ["auth_router", "client_address", "router"]

router = APIRouter(tags=["identity"])
auth_router = APIRouter(tags=["sign-in"])
log = logging.getLogger("relayml.api")


class UserIn(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    name: str
    display_name: str = ""
    email: str = ""
    admin: bool = False
    password: str | None = Field(default=None, repr=False)


class AdminIn(BaseModel):
    """Grant or take back the administrator role."""

    admin: bool


class PasswordIn(BaseModel):
    """A new password (null removes it)."""

    password: str | None = Field(default=None, repr=False)


class TokenIn(BaseModel):
    """A new personal API token."""

    model_config = ConfigDict(extra="forbid")

    name: str = "token"
    scopes: list[str] = ["api"]
    expires_in_days: float | None = 90


def _store(request: Request) -> Store:
    store: Store = request.app.state.backend.store
    return store


def _doc(model: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model}}


@router.get("/me", responses=_doc(Me))
def me(request: Request, identity: Identity = requires(SIGNED_IN)) -> Response:
    """Who you are: your user, how you signed in and your roles in each project."""
    return ok(describe(_store(request), identity))


@router.get("/users", responses=_doc(list[User]))
def list_users(request: Request, identity: Identity = requires(ADMIN_ONLY)) -> Response:
    """Every user (administrators)."""
    return ok(user_service.list_users(_store(request)))


@router.post("/users", status_code=201, responses=_doc(User, 201))
def add_user(request: Request, body: UserIn, identity: Identity = requires(ADMIN_ONLY)) -> Response:
    """Create a user (administrators)."""
    user = user_service.add_user(
        _store(request),
        identity.name,
        body.name,
        display_name=body.display_name,
        email=body.email,
        admin=body.admin,
        password=body.password,
    )
    return ok(user, status_code=201)


@router.get("/users/{name}", responses=_doc(User))
def get_user(request: Request, name: str, identity: Identity = requires(ADMIN_ONLY)) -> Response:
    """One user (administrators)."""
    return ok(user_service.get_user(_store(request), name))


@router.post("/users/{name}/disable", responses=_doc(User))
def disable_user(
    request: Request, name: str, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """Stop a user from signing in; their tokens and sessions fail at once (administrators)."""
    return ok(user_service.disable_user(_store(request), identity.name, name))


@router.post("/users/{name}/enable", responses=_doc(User))
def enable_user(request: Request, name: str, identity: Identity = requires(ADMIN_ONLY)) -> Response:
    """Let a disabled user sign in again (administrators)."""
    return ok(user_service.enable_user(_store(request), identity.name, name))


@router.put("/users/{name}/admin", responses=_doc(User))
def set_admin(
    request: Request, name: str, body: AdminIn, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """Grant or take back the administrator role (administrators)."""
    return ok(user_service.set_admin(_store(request), identity.name, name, body.admin))


@router.put("/users/{name}/password", responses=_doc(User))
def set_password(
    request: Request, name: str, body: PasswordIn, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """Set or remove a user's password for the web pages (administrators)."""
    return ok(user_service.set_password(_store(request), identity.name, name, body.password))


def _create_token(request: Request, actor: str, owner: str, body: TokenIn) -> Response:
    info, secret = token_service.create_token(
        _store(request),
        actor,
        owner,
        body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
    )
    return ok(NewToken(token=info, secret=secret), status_code=201)


@router.get("/tokens", responses=_doc(list[TokenInfo]))
def list_own_tokens(request: Request, identity: Identity = requires(SIGNED_IN)) -> Response:
    """Your tokens, newest first (revoked ones too)."""
    return ok(token_service.list_tokens(_store(request), identity.name))


@router.post("/tokens", status_code=201, responses=_doc(NewToken, 201))
def create_own_token(
    request: Request, body: TokenIn, identity: Identity = requires(SIGNED_IN)
) -> Response:
    """A new token of yours; its secret is in this answer and never shown again."""
    return _create_token(request, identity.name, identity.name, body)


@router.delete("/tokens/{token_id}", responses=_doc(TokenInfo))
def revoke_token(
    request: Request, token_id: int, identity: Identity = requires(SIGNED_IN)
) -> Response:
    """Revoke one of your tokens (an administrator: anyone's); it fails from now on."""
    only = None if identity.is_admin else identity.name
    return ok(token_service.revoke_token(_store(request), identity.name, token_id, user=only))


@router.get("/users/{name}/tokens", responses=_doc(list[TokenInfo]))
def list_user_tokens(
    request: Request, name: str, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """A user's tokens (administrators)."""
    return ok(token_service.list_tokens(_store(request), name))


@router.post("/users/{name}/tokens", status_code=201, responses=_doc(NewToken, 201))
def create_user_token(
    request: Request, name: str, body: TokenIn, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """A new token for a user, e.g. a service account (administrators); the secret shown once."""
    return _create_token(request, identity.name, name, body)


# sign-in for the web pages


async def _credentials(request: Request) -> tuple[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        body = await request.body()
        if kind == "application/x-www-form-urlencoded":
            fields = parse_qs(body.decode(), max_num_fields=20)
            data: Any = {k: v[0] for k, v in fields.items() if k in ("user", "password")}
        else:
            data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        data = None
    user = data.get("user") if isinstance(data, dict) else None
    password = data.get("password") if isinstance(data, dict) else None
    if not isinstance(user, str) or not isinstance(password, str) or not user or not password:
        raise InvalidInput(
            'sign in with a JSON body {"user": NAME, "password": PASSWORD} or an urlencoded '
            "form with the fields user and password."
        )
    return user, password


SIGN_IN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Signed in: the session cookie is set; the body has the CSRF token."},
    401: {"description": "Wrong user name or password, or the user is disabled."},
    422: {"description": "No user or password in the body."},
    429: {"description": "Too many failures for this user or address; see Retry-After."},
}


@auth_router.post("/auth/sign-in", responses=SIGN_IN_RESPONSES)
async def sign_in(request: Request, _public: Identity = requires(PUBLIC)) -> Response:
    """Sign in with a user name and password: sets the session cookie; answers the CSRF token."""
    user, password = await _credentials(request)
    outcome = await sign_in_checked(request, user, password=password)
    if isinstance(outcome, TooManyAttempts):
        response = ok(error_body("TOO_MANY_ATTEMPTS", outcome.message), status_code=429)
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    identity, fingerprint = outcome
    csrf = secrets.token_urlsafe(32)
    response = ok({"user": identity.name, "csrf_token": csrf})
    request.app.state.sessions.start(request, response, identity, fingerprint, csrf)
    return response


@auth_router.post("/auth/sign-out", status_code=200)
async def sign_out(request: Request, _public: Identity = requires(PUBLIC)) -> Response:
    """End this browser's session (the CSRF token is needed while the session is valid)."""
    sessions: SessionManager = request.app.state.sessions
    identity = await run_in_threadpool(sessions.identity, request)  # valid: CSRF checked
    if identity is not None:
        await run_in_threadpool(
            audit_sign_out, _store(request), identity.name, address=client_address(request)
        )
    response = ok({"signed_out": True})
    sessions.clear(request, response)
    return response
