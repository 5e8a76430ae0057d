"""The model server's bearer-token gate (``relay serve --auth``): deny by default.

Every request needs ``Authorization: Bearer <token>`` (a personal API token with the predict or
api scope, see relayml.serving.auth) except the few ``OPEN`` GET routes, which tell whether the
server is up and describe its API, never a model's data:

- ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}/ready`` (and per version):
  what load balancers, Kubernetes probes and the bundle's Docker HEALTHCHECK call, without
  credentials;
- ``/v2`` (the server's name, version, extensions), ``/openapi.json`` and ``/docs``: the API's
  description, the same for every server of this version;
- ``/metrics``: Prometheus scrapers rarely carry tokens; it counts requests per route and
  variant, and never holds inputs, outputs or tokens. Keep the port off the public network, or
  put the scrape behind the network's own controls, when even those counts are private.

A model's metadata (``GET /v2/models/{name}``: its features, classes and traffic split) needs a
token like the inference routes. A route added later is closed unless it is added to ``OPEN``.
Answers: 401 ``{"error": ...}`` with ``WWW-Authenticate: Bearer`` when the token is missing or not
valid; 403 when it is valid but has neither scope; 503 when the store cannot be reached (closed,
not open). The identity is left in the request's state (``relay_identity``) for the routes that
also check a role, and for the access log's ``user`` field. The token itself is never logged.
"""

from __future__ import annotations

import logging
import re

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from relayml.errors import PermissionDenied, RelayError, Unauthenticated
from relayml.serving.auth import TokenCheck

__all__ = ["OPEN", "BearerAuth", "bearer_of", "is_open"]

log = logging.getLogger("relayml.serving")

OPEN = re.compile(
    r"/v2|/v2/health/(live|ready)|/v2/models/[^/]+(/versions/[^/]+)?/ready"
    r"|/metrics|/openapi\.json|/docs|/docs/oauth2-redirect"
)


def is_open(method: str, path: str) -> bool:
    """True for the health, readiness and description routes anyone may read."""
    return method in ("GET", "HEAD") and OPEN.fullmatch(path) is not None


def bearer_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token:
                return token
            return None
    return None


class BearerAuth:
    """ASGI middleware: checks the bearer token of every request to a closed route."""

    def __init__(self, app: ASGIApp, check: TokenCheck) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        secret = bearer_of(scope["headers"])
        identity = self.check.cached(secret) if secret is not None else None
        if identity is None:
            try:
                identity = await run_in_threadpool(self.check.verify, secret)
            except (Unauthenticated, PermissionDenied) as exc:
                await _refuse(send, exc, given=secret is not None)
                return
            except Exception as exc:  # the store is down: closed, never open
                log.error("cannot check a token: %s", type(exc).__name__)
                await _answer(
                    send,
                    503,
                    "cannot check the token: the store is unreachable; try again shortly.",
                )
                return
        scope.setdefault("state", {})["relay_identity"] = identity
        await self.app(scope, receive, send)


async def _refuse(send: Send, exc: RelayError, *, given: bool) -> None:
    challenge = b'Bearer realm="relayml"'
    if given and isinstance(exc, Unauthenticated):
        challenge += b', error="invalid_token"'
    elif isinstance(exc, PermissionDenied):
        challenge += b', error="insufficient_scope", scope="predict"'
    await _answer(send, exc.http_status, exc.message, [(b"www-authenticate", challenge)])


async def _answer(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps({"error": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
