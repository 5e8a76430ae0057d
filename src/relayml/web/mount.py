"""Mount the pages and their static files on the platform's app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from relayml.web.pages import ROUTERS

__all__ = ["STATIC", "mount_web"]

log = logging.getLogger("relayml.web")
STATIC = Path(__file__).parent / "static"
VENDOR_FILES = ("htmx.min.js", "uplot.min.js", "uplot.min.css", "dagre.min.js")


def mount_web(app: FastAPI) -> None:
    """Add every page router and ``/static`` to ``app`` (warns if the vendor build is missing)."""
    missing = [name for name in VENDOR_FILES if not (STATIC / "vendor" / name).exists()]
    if missing:
        log.warning(
            "the web pages' browser libraries are missing (%s): run scripts/build-web-assets.sh "
            "(make install does); pages work without charts and live updates until then",
            ", ".join(missing),
        )
    app.mount("/static", _Static(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)


class _Static(StaticFiles):
    """Static files with a day of browser caching (the vendor names change with the lock file)."""

    async def get_response(self, path: str, scope: Any) -> Any:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=86400"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response
