"""The model server's HTTP interface: Open Inference Protocol V2, /predict, outcomes, /metrics.

Every error answer is ``{"error": "<message>"}`` (the V2 protocol's shape) with 400 (body is not
JSON), 401 (no valid token, with auth on), 403 (a token without the scope or the role), 404, 413
(body over the limit), 422 (input does not fit the model), 503 (models still loading) or 500 (the
model itself failed on valid input). With auth on, relayml.serve.auth gates every route but the
health and description ones.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from relayml import __version__
from relayml.errors import (
    BodyTooLarge,
    InvalidInput,
    ModelFailed,
    ModelNotReady,
    NotFound,
    NotJson,
    PermissionDenied,
    RelayError,
    Unauthenticated,
)
from relayml.serve import openapi
from relayml.serve.auth import BearerAuth, is_open
from relayml.serve.bodies import infer_body, metadata, predict_body
from relayml.serve.fastpath import FastPath
from relayml.serve.replay import logged_at
from relayml.serving.accesslog import AccessLines, AccessLog
from relayml.serving.auth import TokenCheck
from relayml.serving.codec import instances_of
from relayml.serving.service import ModelService

__all__ = ["create_model_app"]

log = logging.getLogger("relayml.serving")
_JSON = "application/json"


# Other RelayErrors (Conflict, ...) answer 422: to a caller of the model server, its input is wrong.
_STATUS: dict[type[RelayError], int] = {
    cls: cls.http_status
    for cls in (
        NotJson,
        NotFound,
        BodyTooLarge,
        InvalidInput,
        ModelNotReady,
        Unauthenticated,
        PermissionDenied,
    )
}


def error_answer(exc: RelayError) -> tuple[int, str]:
    """The status and message a RelayError answers with (a model failure is logged)."""
    if isinstance(exc, ModelFailed):
        log.error("%s", exc.message)
        return 500, exc.message
    for kind, status in _STATUS.items():
        if isinstance(exc, kind):
            return status, exc.message
    return 422, exc.message


def _flag(value: str | None) -> bool:
    """A query flag: ?features=true (or 1, yes)."""
    return value is not None and value.lower() in ("true", "1", "yes")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=_JSON)


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


async def _body(request: Request, limit: int) -> Any:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(f"the body has {int(length)} bytes; the limit is {limit} bytes.")
    chunks = []
    size = 0
    async for chunk in request.stream():
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


class _ModelApp(FastAPI):
    """FastAPI, with the prediction routes answered ahead of it when a fast path is set."""

    fast_path: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The fast path (serve.fastpath) when set, which hands every other request to FastAPI."""
        if self.fast_path is not None:
            await self.fast_path(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def full(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI itself: every route, behind its middleware stack."""
        await super().__call__(scope, receive, send)


def create_model_app(
    service: ModelService,
    *,
    max_body: int,
    access_log: bool = True,
    cors_origins: Sequence[str] = (),
    auth: TokenCheck | None = None,
    replay: bool = False,
) -> FastAPI:
    """The ASGI app of a model server; `cors_origins` lets web pages of those origins call it;
    with `auth`, every route but health and description needs a token (relayml.serve.auth);
    with `replay`, a request's X-Relay-Time header is the time its predictions are logged at."""
    runtime = service.runtime
    lines = AccessLines()  # both access logs below write through it, in order

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        runtime.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            runtime.stop()
            lines.close()
            for log_ in (service.predictions, service.outcomes, service.requests):
                if log_ is not None:
                    log_.close()

    app = _ModelApp(
        title="relayml model server",
        version=__version__,
        description=__doc__,
        lifespan=lifespan,
    )
    app.state.access_lines = lines  # ModelServer.close writes them when no lifespan ran

    @app.exception_handler(RelayError)
    async def _relay_error(_request: Request, exc: RelayError) -> Response:
        status, message = error_answer(exc)
        return _error(status, message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "invalid request: " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return _error(500, f"internal error: {type(exc).__name__}; see the server's log.")

    @app.get("/v2", tags=["health"])
    async def servermetadata() -> Response:
        """Server name, version and protocol extensions."""
        return _json({"name": "relayml", "version": __version__, "extensions": ["outcomes"]})

    @app.get("/v2/health/live", tags=["health"])
    async def live() -> Response:
        """The process answers."""
        return _json({"live": True})

    @app.get("/v2/health/ready", tags=["health"], responses=openapi.READY)
    async def ready() -> Response:
        """Every served model is loaded (503 while loading or when loading failed)."""
        return _json({"ready": runtime.ready}, 200 if runtime.ready else 503)

    @app.get("/v2/models/{name}", tags=["models"], responses=openapi.MODEL)
    async def modelmetadata(name: str) -> Response:
        """Inputs, outputs and variants of a served model."""
        model = service.model(name)
        return _json(metadata(model, model.live[0]))

    @app.get("/v2/models/{name}/versions/{version}", tags=["models"])
    async def versionmetadata(name: str, version: int) -> Response:
        """Inputs and outputs of one served version."""
        model = service.model(name)
        return _json(metadata(model, model.variant_for_version(version)))

    @app.get("/v2/models/{name}/ready", tags=["models"])
    async def model_ready(name: str) -> Response:
        """Whether a model is loaded."""
        service.model(name)
        return _json({"name": name, "ready": True})

    @app.get("/v2/models/{name}/versions/{version}/ready", tags=["models"])
    async def version_ready(name: str, version: int) -> Response:
        """Whether a version is loaded."""
        service.model(name).variant_for_version(version)
        return _json({"name": name, "ready": True})

    async def _infer(request: Request, name: str, version: int | None) -> Response:
        payload = await _body(request, max_body)
        header_key = request.headers.get("x-relay-key")
        at = request.headers.get("x-relay-time")
        return _json(await infer_payload(payload, name, version, header_key, at))

    async def infer_payload(
        payload: Any, name: str, version: int | None, header_key: str | None, at: str | None = None
    ) -> dict[str, Any]:
        model = service.model(name)
        with service.counting_refusals(model):
            when = logged_at(at, replay)
            if not isinstance(payload, dict) or "inputs" not in payload:
                raise InvalidInput('an infer request is an object with "inputs": [tensors].')
            params = payload.get("parameters")
            key = None
            if isinstance(params, dict) and model.sticky_key:
                key = params.get(model.sticky_key)
            if header_key is not None:
                key = header_key
            wanted = isinstance(params, dict) and params.get("features") is True
            answer = await service.answer_columns(
                model, payload["inputs"], version, key, wanted, logged_at=when
            )
        return infer_body(answer, payload.get("id"))

    @app.post("/v2/models/{name}/infer", tags=["inference"], openapi_extra=openapi.INFER)
    async def infer(request: Request, name: str) -> Response:
        """Predict (Open Inference Protocol V2): one tensor per column, or one 2-D tensor."""
        return await _infer(request, name, None)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        tags=["inference"],
        openapi_extra=openapi.INFER,
    )
    async def infer_version(request: Request, name: str, version: int) -> Response:
        """Predict with one served version (live or shadow), bypassing the traffic split."""
        return await _infer(request, name, version)

    @app.post("/predict", tags=["inference"], openapi_extra=openapi.PREDICT)
    async def predict(
        request: Request, model: str | None = None, features: bool = False
    ) -> Response:
        """Predict one record, or {"instances": [records]}: answers predictions and their ids;
        ?features=true also answers the feature values a model looked up online."""
        payload = await _body(request, max_body)
        key = request.headers.get("x-relay-key")
        at = request.headers.get("x-relay-time")
        return _json(await predict_payload(payload, model, key, features, at))

    async def predict_payload(
        payload: Any,
        model: str | None,
        key: str | None,
        features: bool = False,
        at: str | None = None,
    ) -> dict[str, Any]:
        served = service.model(model)
        with service.counting_refusals(served):
            when = logged_at(at, replay)
            codec = served.live[0].codec
            rows = instances_of(payload, codec.example, codec.names)
            answer = await service.answer_rows(served, rows, key, features, logged_at=when)
        return predict_body(answer)

    @app.post("/v2/models/{name}/outcomes", tags=["outcomes"], openapi_extra=openapi.OUTCOMES)
    async def outcomes(request: Request, name: str) -> Response:
        """Record true values of earlier predictions, joined to them later by prediction id."""
        served = service.model(name)
        if auth is not None:  # the token passed BearerAuth; its user needs the role too
            identity = request.state.relay_identity
            project = service.runtime.project
            await run_in_threadpool(auth.check, identity, "outcomes.write", project)
        payload = await _body(request, max_body)
        if not isinstance(payload, dict):
            raise InvalidInput('send {"prediction_ids": [...], "values": [...]}.')
        count = service.record_outcomes(
            served.name, payload.get("prediction_ids"), payload.get("values"), "api"
        )
        return _json({"accepted": count})

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        """Prometheus metrics: requests, errors, latency, batch sizes, per variant; the logs."""
        service.metrics.ready.set(1 if runtime.ready else 0)
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    # The hot paths also get plain Starlette routes ahead of FastAPI's: the same handlers without
    # FastAPI's per-request parameter machinery. The FastAPI routes still document them.
    async def predict_fast(request: Request) -> Response:
        query = request.query_params
        return await predict(request, query.get("model"), _flag(query.get("features")))

    async def infer_fast(request: Request) -> Response:
        return await _infer(request, request.path_params["name"], None)

    app.router.routes[0:0] = [
        Route("/predict", predict_fast, methods=["POST"], include_in_schema=False),
        Route("/v2/models/{name}/infer", infer_fast, methods=["POST"], include_in_schema=False),
    ]
    if auth is not None:  # inside the access log, which so counts and logs the refusals too
        app.add_middleware(BearerAuth, check=auth)
        plain_schema = app.openapi

        def secured_schema() -> dict[str, Any]:
            schema = plain_schema()  # FastAPI builds it once and keeps it
            if "securitySchemes" not in schema.get("components", {}):
                openapi.add_bearer(schema, is_open)
            return schema

        app.openapi = secured_schema  # type: ignore[method-assign]
    app.add_middleware(
        AccessLog,
        metrics=service.metrics,
        enabled=access_log,
        lines=lines,
        on_prediction_request=service.record_request,
    )
    if auth is None and not cors_origins:  # nothing else must see a prediction request
        access = AccessLog(
            app,
            service.metrics,
            enabled=access_log,
            lines=lines,
            on_prediction_request=service.record_request,
        )
        app.fast_path = FastPath(
            app.full,
            predict=predict_payload,
            infer=infer_payload,
            error_answer=error_answer,
            access=access,
            max_body=max_body,
        )
    if cors_origins:  # outermost: a preflight is answered before anything else runs
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-Relay-Key", "X-Relay-Time", "Authorization"],
            max_age=600,
        )
    return app
