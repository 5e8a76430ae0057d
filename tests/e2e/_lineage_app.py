"""A relay server with the lineage routes, for the lineage e2e tests.

``app`` is a uvicorn factory: relay's own app, plus the lineage router and LocalLineageOps when
the app does not carry them yet. ``lineage_server`` runs it in a subprocess on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI

from relayml.api import lineage_routes
from relayml.api.app import create_app
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.lineage.local import LocalLineageOps
from tests.fixtures.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
_APP = ("tests.e2e._lineage_app:app", "--factory")


class LineageBackend(LocalBackend, LocalLineageOps):
    """LocalBackend with the lineage operations (LocalBackend may carry them already)."""


def app() -> FastAPI:
    """The relay app with the lineage routes, its settings from RELAY_* variables."""
    application = create_app(LineageBackend(get_settings()))
    paths = {getattr(route, "path", "") for route in application.routes}
    if "/api/v1/lineage" not in paths:
        application.include_router(lineage_routes.router, prefix="/api/v1")
    return application


@contextmanager
def lineage_server(home: Path) -> Iterator[str]:
    """Run the app under uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "RELAY_HOME": str(home), "RELAY_USER": "server-admin"}
    env.pop("RELAY_SERVER_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *_APP, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port("127.0.0.1", port, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
