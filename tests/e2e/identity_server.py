"""A real `relay` API server with identity required, for the sign-in and single sign-on tests.

``auth_app`` is a uvicorn factory: the app of RELAY_* settings with ``app.state.auth`` on (what
`relay server` does without --no-auth). ``running_server`` starts it on a loopback port in a
subprocess, its output kept in a log file that tests read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from relayml.api.app import app_from_environment
from tests.fixtures.net import free_port, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def auth_app() -> FastAPI:
    """The API of the environment's settings, requiring identity on every route."""
    app = app_from_environment()
    app.state.auth = True
    return app


@dataclass
class Server:
    """A running server: its URL and its log file."""

    url: str
    log: Path


@contextmanager
def running_server(home: Path, **settings: str) -> Iterator[Server]:
    """`uvicorn tests.e2e.identity_server:auth_app` on 127.0.0.1, stopped afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update({"RELAY_HOME": str(home), "RELAY_MONITOR_INTERVAL": "0", **settings})
    log = home / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.e2e.identity_server:auth_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "debug"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port("127.0.0.1", port, timeout=60)
            yield Server(url=f"http://127.0.0.1:{port}", log=log)
        finally:
            stop_process(proc)
