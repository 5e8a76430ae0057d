"""Single sign-on with OpenID Connect (Authlib): authorization code + PKCE (S256), state, nonce.

``GET /auth/oidc/login[?next=/path]`` sends the browser to the provider; the flow's state, nonce
and PKCE verifier wait in a short-lived signed cookie (``relay_oidc``, 10 minutes). The provider
sends the browser back to ``GET /auth/oidc/callback``, which checks the state against that
cookie, exchanges the code (with the verifier), validates the ID token (signature, issuer,
audience, nonce), applies identity/oidc_mapping.py (user, roles) and starts a session.
Settings: RELAY_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _SCOPES, _GROUPS_CLAIM, _ROLE_MAP,
_REDIRECT_URL.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]
    OAuth,
    OAuthError,
)
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import requires
from relayml.api.identity_routes import client_address
from relayml.api.sessions import SessionManager
from relayml.config import Settings
from relayml.domain.identity import Identity
from relayml.domain.permissions import PUBLIC
from relayml.errors import NotFound, ServerUnavailable, Unauthenticated
from relayml.identity.oidc_mapping import RoleMap, parse_role_map, sign_in_from_claims

__all__ = ["SingleSignOn", "router"]

router = APIRouter(tags=["sign-in"])
log = logging.getLogger("relayml.api")
FLOW_COOKIE = "relay_oidc"
FLOW_MAX_AGE = 600
_NAME = "relay"


class SingleSignOn:
    """The OpenID Connect client of one app, built from the settings on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = (settings.oidc_issuer or "").rstrip("/")
        self.role_map: RoleMap = parse_role_map(settings.oidc_role_map)  # bad map: fail at start
        self._oauth: OAuth | None = None

    @property
    def configured(self) -> bool:
        """True when the issuer and client id are set."""
        return bool(self.issuer and self.settings.oidc_client_id)

    def client(self) -> Any:
        """Authlib's Starlette client for the provider."""
        if not self.configured:
            raise NotFound(
                "single sign-on is not configured on this server; set RELAY_OIDC_ISSUER, "
                "RELAY_OIDC_CLIENT_ID and RELAY_OIDC_CLIENT_SECRET (see `relay config`)."
            )
        if self._oauth is None:
            secret = self.settings.oidc_client_secret
            oauth = OAuth()
            oauth.register(
                _NAME,
                client_id=self.settings.oidc_client_id,
                client_secret=secret.get_secret_value() if secret else None,
                server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
                client_kwargs={"scope": self.settings.oidc_scopes, "code_challenge_method": "S256"},
            )
            self._oauth = oauth
        return self._oauth.create_client(_NAME)


def _sso(request: Request) -> SingleSignOn:
    sso: SingleSignOn = request.app.state.single_sign_on
    return sso


def _sessions(request: Request) -> SessionManager:
    sessions: SessionManager = request.app.state.sessions
    return sessions


def _safe_next(value: str | None) -> str:
    """Only a path on this server (no other host: an open redirect)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


async def _metadata(client: Any, issuer: str) -> None:
    try:
        metadata = await client.load_server_metadata()
    except Exception as exc:  # httpx errors, bad JSON: the provider cannot be used
        raise ServerUnavailable(
            f"cannot read the identity provider's configuration at {issuer}: "
            f"{type(exc).__name__}. Check RELAY_OIDC_ISSUER and that the provider is up."
        ) from exc
    if str(metadata.get("issuer", "")).rstrip("/") != issuer:
        raise Unauthenticated(
            f"the identity provider calls itself {metadata.get('issuer')!r}, not {issuer!r}; "
            "set RELAY_OIDC_ISSUER to its issuer exactly."
        )


@router.get("/auth/oidc/login", response_class=RedirectResponse, status_code=302)
async def oidc_login(
    request: Request, next: str | None = None, _public: Identity = requires(PUBLIC)
) -> Response:
    """Start single sign-on: redirect to the identity provider."""
    sso = _sso(request)
    client = sso.client()
    await _metadata(client, sso.issuer)
    redirect = sso.settings.oidc_redirect_url or str(request.url_for("oidc_callback"))
    request.scope["session"] = {}  # Authlib keeps the flow's state, nonce and verifier here
    response = await client.authorize_redirect(request, redirect)
    flow = {"authlib": request.scope["session"], "next": _safe_next(next)}
    response.set_cookie(
        FLOW_COOKIE,
        _sessions(request).serializer.dumps(flow, salt="relay-oidc"),
        max_age=FLOW_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response  # type: ignore[no-any-return]


@router.get("/auth/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request, _public: Identity = requires(PUBLIC)) -> Response:
    """Finish single sign-on: check the answer, create or update the user, start a session."""
    sso = _sso(request)
    client = sso.client()
    sessions = _sessions(request)
    again = "start again at /auth/oidc/login."
    try:
        flow = sessions.serializer.loads(
            request.cookies.get(FLOW_COOKIE, ""), salt="relay-oidc", max_age=FLOW_MAX_AGE
        )
    except BadSignature:
        flow = None
    if not isinstance(flow, dict):
        raise Unauthenticated(f"single sign-on: no sign-in is under way in this browser; {again}")
    request.scope["session"] = flow.get("authlib") or {}
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:  # MismatchingStateError, the provider's error=..., bad ID token
        log.info("single sign-on refused: %s", exc.error)
        raise Unauthenticated(
            f"single sign-on failed ({exc.error}: the state does not match, the provider "
            f"refused, or its answer was not valid); {again}"
        ) from None
    except Exception as exc:  # joserfc claim errors, httpx errors on the token endpoint
        log.info("single sign-on refused: %s", type(exc).__name__)
        raise Unauthenticated(
            f"single sign-on failed ({type(exc).__name__}): the provider's answer could not "
            f"be verified; {again}"
        ) from None
    claims = dict(token.get("userinfo") or {})
    if sso.settings.oidc_groups_claim not in claims:
        try:
            claims = {**dict(await client.userinfo(token=token)), **claims}
        except Exception as exc:  # the provider has no userinfo endpoint: no groups then
            log.info("single sign-on: no userinfo (%s)", type(exc).__name__)
    identity, fingerprint = await run_in_threadpool(
        sign_in_from_claims,
        request.app.state.backend.store,
        sso.issuer,
        claims,
        groups_claim=sso.settings.oidc_groups_claim,
        role_map=sso.role_map,
        address=client_address(request),
    )
    if identity is None:
        raise Unauthenticated("this user is disabled; ask an administrator to enable them.")
    response = RedirectResponse(_safe_next(flow.get("next")), status_code=303)
    sessions.start(request, response, identity, fingerprint, secrets.token_urlsafe(32))
    response.delete_cookie(FLOW_COOKIE, path="/")
    return response
