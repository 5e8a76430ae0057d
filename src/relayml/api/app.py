"""The FastAPI application: routes under /api/v1, /healthz, /readyz, one error shape for all.

With auth on (the default of `relay server`), every route but /healthz and /readyz needs a
signed-in user; each declares its action with ``requires`` (relayml/api/auth.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from relayml import __version__
from relayml.api import (
    audit_routes,
    data_routes,
    feature_routes,
    identity_routes,
    lineage_routes,
    model_routes,
    monitoring_routes,
    oidc,
    pipeline_routes,
    report_routes,
    routes,
    schedule_routes,
    serving_routes,
)
from relayml.api import mlflow as mlflow_api
from relayml.api.asgi import replaying
from relayml.api.auth import requires
from relayml.api.online_path import OnlineLookups
from relayml.api.responses import error_body, error_response, ok
from relayml.api.route_gate import RouteGate, family_gate
from relayml.api.sessions import CsrfFormField, SessionManager
from relayml.backend import LocalBackend
from relayml.config import Settings
from relayml.domain.permissions import PUBLIC
from relayml.errors import NotFound, RelayError
from relayml.identity.signin_limit import SignInLimiter
from relayml.web import mount_web
from relayml.web.errors import page_error, wants_page

__all__ = ["app_from_environment", "app_without_auth", "create_app"]

log = logging.getLogger("relayml.api")
# The default largest JSON body of a POST or PATCH (100,000 metric points with long keys fit);
# RELAY_API_MAX_BODY_BYTES sets it (Settings.api_max_body_bytes); larger: 413.
MAX_JSON_BODY: int = Settings.model_fields["api_max_body_bytes"].default


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


class BodyLimit:
    """ASGI middleware: a POST or PATCH body over the limit (bytes) gets 413, unparsed.

    Bodies are JSON there (uploads are PUT, streamed by their routes with their own limit); the
    body is read up to the limit before the route sees it, so nothing parses a huge body.
    """

    def __init__(self, app: Any, limit: int = MAX_JSON_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        await self.app(scope, replaying(body, receive), send)

    async def _refuse(self, send: Any) -> None:
        message = (
            f"the request body is over the limit of {self.limit} bytes; send fewer items "
            "per request (e.g. metric points in batches)."
        )
        payload = ok(error_body("BODY_TOO_LARGE", message), status_code=413)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload.body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload.body})


def create_app(backend: LocalBackend, *, auth: bool | None = None) -> FastAPI:
    """Build the API around a backend (which owns the store and the artifacts).

    ``auth`` (default: the backend's ``auth`` setting, on unless RELAY_AUTH=false): every route
    but /healthz and /readyz needs a signed-in user. Off, the caller is the local user, an admin.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from relayml.governance.checkpoints import CheckpointScheduler
        from relayml.monitoring.scheduler import MonitorScheduler
        from relayml.schedules.scheduler import PipelineScheduler

        settings = backend.settings
        interval = settings.monitor_interval
        scheduler = MonitorScheduler(backend, interval) if interval > 0 else None
        if scheduler is not None:
            scheduler.start()
        every_tick = settings.schedule_interval
        pipelines = PipelineScheduler(backend, every_tick) if every_tick > 0 else None
        if pipelines is not None:
            pipelines.start()
        every = settings.audit_checkpoint_interval
        checkpoints = None
        if every > 0:
            key = settings.resolved_audit_key_file
            checkpoints = CheckpointScheduler(backend.store, key, every, "relay-server")
            checkpoints.start()
        try:
            yield
        finally:
            if checkpoints is not None:
                checkpoints.stop()
            if scheduler is not None:
                scheduler.stop()
            if pipelines is not None:
                pipelines.stop()
            backend.close()

    app = FastAPI(
        title="relayml",
        version=__version__,
        description="Tracking, projects and artifacts of relayml. Send a personal API token as "
        "`Authorization: Bearer <token>`. Errors are "
        '`{"error": {"code", "message"}}` with status 401, 403, 404, 409, 422 or 503.',
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.auth = backend.settings.auth if auth is None else auth
    # Sessions of the web pages (api/sessions.py): api/auth.py asks them without a bearer token.
    settings = backend.settings
    app.state.sessions = SessionManager(settings, backend.store)
    app.state.session_identity = app.state.sessions.identity
    app.state.signin_limiter = SignInLimiter(settings.signin_max_failures, settings.signin_window)
    app.state.single_sign_on = oidc.SingleSignOn(settings)
    app.add_middleware(CsrfFormField)  # inside BodyLimit: the body is limited before it is read
    app.add_middleware(BodyLimit, limit=backend.settings.api_max_body_bytes)
    app.add_middleware(OnlineLookups)  # outermost: a plain lookup skips the rest (online_path)

    # Under the MLflow prefixes errors take MLflow's shape (relayml/api/mlflow/errors.py).
    @app.exception_handler(RelayError)
    async def _relay_error(request: Request, exc: RelayError) -> Response:
        if mlflow_api.is_mlflow_path(request.url.path):
            return mlflow_api.mlflow_error_response(exc)
        if wants_page(request):
            return await run_in_threadpool(page_error, request, exc)
        return error_response(exc)

    @app.exception_handler(mlflow_api.MlflowError)
    async def _mlflow_error(_request: Request, exc: mlflow_api.MlflowError) -> Response:
        return mlflow_api.mlflow_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        message = _describe_validation(exc)
        if mlflow_api.is_mlflow_path(request.url.path):
            error = mlflow_api.MlflowError("INVALID_PARAMETER_VALUE", message)
            return mlflow_api.mlflow_error_response(error)
        return ok(error_body("INVALID_INPUT", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if mlflow_api.is_mlflow_path(request.url.path) and exc.status_code in (404, 405):
            message = f"{request.method} {request.url.path} is not an endpoint relayml implements."
            error = mlflow_api.MlflowError("ENDPOINT_NOT_FOUND", message)
            return mlflow_api.mlflow_error_response(error)
        if wants_page(request) and exc.status_code == 404:
            missing = NotFound(f"there is no page at {request.url.path}.")
            return await run_in_threadpool(page_error, request, missing)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return ok(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        message = f"internal error: {type(exc).__name__}; see the server's log."
        if mlflow_api.is_mlflow_path(request.url.path):
            return mlflow_api.mlflow_error_response(
                mlflow_api.MlflowError("INTERNAL_ERROR", message)
            )
        if wants_page(request):
            return page_error(request, None, 500)
        return ok(error_body("INTERNAL", message), status_code=500)

    @app.get("/healthz", tags=["operations"], dependencies=[requires(PUBLIC)])
    def healthz() -> dict[str, Any]:
        """Liveness and the store's schema revision."""
        revision = backend.store.current_revision()
        return {"status": "ok", "version": __version__, "schema_revision": revision}

    @app.get("/readyz", tags=["operations"], dependencies=[requires(PUBLIC)])
    def readyz() -> dict[str, Any]:
        """Ready for traffic: the store answers at this code's schema revision (else 503)."""
        backend.store.check_revision()
        revision = backend.store.current_revision()
        return {"status": "ready", "schema_revision": revision}

    app.include_router(routes.router, prefix="/api/v1")
    app.include_router(model_routes.router, prefix="/api/v1")
    app.include_router(data_routes.router, prefix="/api/v1")
    app.include_router(feature_routes.router, prefix="/api/v1")
    app.include_router(lineage_routes.router, prefix="/api/v1")
    app.include_router(pipeline_routes.router, prefix="/api/v1")
    app.include_router(schedule_routes.router, prefix="/api/v1")
    app.include_router(serving_routes.router, prefix="/api/v1")
    app.include_router(monitoring_routes.router, prefix="/api/v1")
    app.include_router(identity_routes.router, prefix="/api/v1")
    app.include_router(report_routes.router, prefix="/api/v1")
    app.include_router(identity_routes.auth_router)
    app.include_router(oidc.router)
    app.include_router(audit_routes.router, prefix="/api/v1")
    mlflow_api.mount(app)
    mount_web(app)  # the pages at / (relayml.web)
    # after the MLflow gate: the platform API's families, each tried only with its own routes
    behind = [r for r in app.router.routes if not isinstance(r, RouteGate)]
    app.router.routes.insert(1, family_gate(behind))
    return app


def app_from_environment() -> FastAPI:
    """The app for `uvicorn --factory` workers: settings come from RELAY_* variables.

    With auth on and RELAY_BOOTSTRAP_TOKEN set, a store without users gets its first
    administrator here too (automation that starts uvicorn itself); `relay server` does it once
    before its workers start, and prints a one-time token when no bootstrap token is set.
    """
    from relayml.config import get_settings

    settings = get_settings()
    backend = LocalBackend(settings)
    if settings.auth and settings.bootstrap_token is not None:
        from relayml.identity.bootstrap import bootstrap_admin

        bootstrap_admin(backend.store, settings.user, settings.bootstrap_token)
    return create_app(backend)


def app_without_auth() -> FastAPI:
    """The app for the workers of `relay server --no-auth` (one person, on loopback)."""
    from relayml.config import get_settings

    return create_app(LocalBackend(get_settings()), auth=False)
