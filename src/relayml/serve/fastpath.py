"""The model server's prediction routes straight on ASGI, ahead of FastAPI's middleware stack.

``POST /predict`` and ``POST /v2/models/{name}/infer`` are what a caller pays for on every
prediction; through FastAPI each request also crosses its error, telemetry, body-limit and
exception middlewares and a router (about a third of the server's own time per request at one
connection). ``FastPath`` answers those two routes itself with the same handlers, the same
error shapes and statuses, the same body limit, metrics, access-log line and request log (the
``AccessLog``'s ``finished``), and passes everything else, unchanged, to the full app. It is
used when no other middleware must see the request (no ``--auth``, no CORS origins).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from relayml.errors import BodyTooLarge, NotJson, RelayError
from relayml.serving.accesslog import AccessLog
from relayml.serving.metrics import Message, Receive, Scope, Send

__all__ = ["FastPath"]

log = logging.getLogger("relayml.serving")

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (body, model, X-Relay-Key, ?features, X-Relay-Time) and (body, name, version, key, time)
PredictPayload = Callable[
    [Any, str | None, str | None, bool, str | None], Awaitable[dict[str, Any]]
]
InferPayload = Callable[[Any, str, int | None, str | None, str | None], Awaitable[dict[str, Any]]]
ErrorAnswer = Callable[[RelayError], tuple[int, str]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_PREDICT = "/predict"
_INFER = "/v2/models/{name}/infer"


class _Disconnected(Exception):
    """The client went away before its body was read."""


class FastPath:
    """ASGI app: the two prediction routes answered directly, anything else sent to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        predict: PredictPayload,
        infer: InferPayload,
        error_answer: ErrorAnswer,
        access: AccessLog,
        max_body: int,
    ) -> None:
        self.app = app
        self._predict = predict
        self._infer = infer
        self._error_answer = error_answer
        self._access = access
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == _PREDICT:
            route, name = _PREDICT, None
        elif path.startswith("/v2/models/") and path.endswith("/infer"):
            name = path[len("/v2/models/") : -len("/infer")]
            if not name or "/" in name:
                await self.app(scope, receive, send)
                return
            route = _INFER
        else:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        try:
            status = await self._answer(scope, receive, send, route, name)
        finally:
            self._access.finished(scope, status, time.perf_counter() - start, route)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, route: str, name: str | None
    ) -> int:
        key: str | None = None
        at: str | None = None
        length: bytes | None = None
        for header, value in scope["headers"]:
            if header == b"content-length":
                length = value
            elif header == b"x-relay-key":
                key = value.decode("latin-1")
            elif header == b"x-relay-time":
                at = value.decode("latin-1")
        try:
            payload = await self._body(receive, length)
            if route == _PREDICT:
                query = scope.get("query_string", b"")
                model = _query_value(query, "model")
                shown = (_query_value(query, "features") or "").lower() in ("true", "1", "yes")
                answer = await self._predict(payload, model, key, shown, at)
            else:
                assert name is not None
                answer = await self._infer(payload, name, None, key, at)
            status, body = 200, orjson.dumps(answer)
        except _Disconnected:
            return 500  # nothing to answer; counted as the access log counts it
        except RelayError as exc:
            status, message = self._error_answer(exc)
            body = orjson.dumps({"error": message})
        except Exception as exc:
            log.exception("unexpected error")
            status = 500
            body = orjson.dumps(
                {"error": f"internal error: {type(exc).__name__}; see the server's log."}
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *_JSON_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return status

    async def _body(self, receive: Receive, length: bytes | None) -> Any:
        limit = self._max_body
        if length is not None and length.isdigit() and int(length) > limit:
            raise BodyTooLarge(f"the body has {int(length)} bytes; the limit is {limit} bytes.")
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise BodyTooLarge(f"the body is over the limit of {limit} bytes.")
        if message.get("more_body", False):
            chunks = [body]
            size = len(body)
            while message.get("more_body", False):
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"the body is over the limit of {limit} bytes.")
                chunks.append(chunk)
            body = b"".join(chunks)
        if not body:
            raise NotJson("the body is empty; send JSON.")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise NotJson(f"the body is not valid JSON: {exc}.") from None


def _query_value(query: bytes, name: str) -> str | None:
    """The last value of a query parameter (as Starlette's QueryParams.get gives it), or None."""
    if not query:
        return None
    value = None
    for key, found in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key == name:
            value = found
    return value
