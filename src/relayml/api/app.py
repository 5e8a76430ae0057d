"""The FastAPI application: routes under /api/v1, /healthz, one error shape for all."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from relayml import __version__
from relayml.api import (
    data_routes,
    lineage_routes,
    model_routes,
    monitoring_routes,
    pipeline_routes,
    routes,
    serving_routes,
)
from relayml.api.responses import error_body, error_response, ok
from relayml.backend import LocalBackend
from relayml.errors import RelayError

__all__ = ["create_app"]

log = logging.getLogger("relayml.api")


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def create_app(backend: LocalBackend) -> FastAPI:
    """Build the API around a backend (which owns the store and the artifacts)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from relayml.monitoring.scheduler import MonitorScheduler

        interval = backend.settings.monitor_interval
        scheduler = MonitorScheduler(backend, interval) if interval > 0 else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            backend.close()

    app = FastAPI(
        title="relayml",
        version=__version__,
        description="Tracking, projects and artifacts of relayml. Errors are "
        '`{"error": {"code", "message"}}` with status 404, 409, 422, 403 or 503.',
        lifespan=lifespan,
    )
    app.state.backend = backend

    @app.exception_handler(RelayError)
    async def _relay_error(_request: Request, exc: RelayError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return ok(error_body("INVALID_INPUT", _describe_validation(exc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return ok(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        message = f"internal error: {type(exc).__name__}; see the server's log."
        return ok(error_body("INTERNAL", message), status_code=500)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, Any]:
        """Liveness and the store's schema revision."""
        revision = backend.store.current_revision()
        return {"status": "ok", "version": __version__, "schema_revision": revision}

    app.include_router(routes.router, prefix="/api/v1")
    app.include_router(model_routes.router, prefix="/api/v1")
    app.include_router(data_routes.router, prefix="/api/v1")
    app.include_router(lineage_routes.router, prefix="/api/v1")
    app.include_router(pipeline_routes.router, prefix="/api/v1")
    app.include_router(serving_routes.router, prefix="/api/v1")
    app.include_router(monitoring_routes.router, prefix="/api/v1")
    return app


def app_from_environment() -> FastAPI:
    """The app for `uvicorn --factory` workers: settings come from RELAY_* variables."""
    from relayml.config import get_settings

    return create_app(LocalBackend(get_settings()))
