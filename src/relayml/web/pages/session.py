"""Signing in and out in a browser: a password, a personal API token, or single sign-on."""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import requires
from relayml.api.sessions import SessionManager, TooManyAttempts, client_address, sign_in_checked
from relayml.domain.identity import Identity
from relayml.domain.permissions import PUBLIC
from relayml.errors import Unauthenticated
from relayml.identity.signins import audit_sign_out
from relayml.web.errors import _sso
from relayml.web.pages.common import form_fields, page_router
from relayml.web.render import page

__all__ = ["router", "safe_next"]

router = page_router()


def safe_next(target: str) -> str:
    """Where to go after signing in: a path of this site, never another site."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return "/"
    return target


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "/", _p: Identity = requires(PUBLIC)) -> Response:
    """The sign-in form."""
    request.state.identity = None
    return page(request, "sign_in.html", next=safe_next(next), error=None, sso=_sso(request))


@router.post("/sign-in")
async def sign_in_form(request: Request, _p: Identity = requires(PUBLIC)) -> Response:
    """Sign in with the form: a session cookie, then back to the page asked for."""
    fields = await form_fields(request, "user", "password", "token", "next")
    target = safe_next(fields["next"] or "/")
    request.state.identity = None
    token = fields["token"].strip() or None
    error, status = None, 401
    outcome: tuple[Identity, str] | TooManyAttempts | None = None
    if token is None and not (fields["user"] and fields["password"]):
        error, status = "Type your user name and password, or paste a personal API token.", 422
    else:
        try:
            outcome = await sign_in_checked(
                request, fields["user"].strip(), password=fields["password"], token=token
            )
        except Unauthenticated as exc:
            outcome, error = None, exc.message
        if isinstance(outcome, TooManyAttempts):
            error, status = outcome.message, 429
        elif outcome is not None:
            identity, fingerprint = outcome
            response = RedirectResponse(target, status_code=303)
            sessions: SessionManager = request.app.state.sessions
            sessions.start(request, response, identity, fingerprint, secrets.token_urlsafe(32))
            return response
    shown = page(
        request, "sign_in.html", status=status, next=target, error=error, sso=_sso(request)
    )
    if isinstance(outcome, TooManyAttempts):
        shown.headers["Retry-After"] = str(outcome.retry_after)
    return shown


@router.post("/sign-out")
async def sign_out_form(request: Request, _p: Identity = requires(PUBLIC)) -> Response:
    """End this browser's session (the form carries the session's CSRF token)."""
    sessions: SessionManager = request.app.state.sessions
    identity = await run_in_threadpool(sessions.identity, request)  # CSRF checked
    if identity is not None:
        store = request.app.state.backend.store
        await run_in_threadpool(
            audit_sign_out, store, identity.name, address=client_address(request)
        )
    response = RedirectResponse("/sign-in", status_code=303)
    sessions.clear(request, response)
    return response
