"""The model server's reload loop while the platform server goes away and comes back."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from relayml.api.app import create_app
from relayml.backend import LocalBackend
from relayml.client.http import HttpBackend
from relayml.config import Settings
from relayml.identity.bootstrap import bootstrap_admin
from relayml.serving.runtime import Runtime, ServedModel
from relayml.serving.sources import BackendSource
from relayml.serving.variant import ServeOptions
from tests.fixtures.net import free_port


class _Platform:
    """A real `relay server` app under uvicorn in a thread, stoppable and restartable."""

    def __init__(self, backend: LocalBackend, port: int) -> None:
        self.backend, self.port = backend, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.backend), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert time.monotonic() < deadline, "the platform server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=20)


def test_one_line_when_the_platform_goes_away_and_one_when_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    local = LocalBackend(Settings(home=tmp_path / "home"))
    local.create_project("churn")
    port = free_port()
    platform = _Platform(local, port)
    platform.start()
    token = bootstrap_admin(local.store, "alice")  # the platform has auth on, as by default
    url = f"http://127.0.0.1:{port}"
    remote = HttpBackend(Settings(home=tmp_path / "client", server_url=url, token=token))
    runtime = Runtime(BackendSource(remote, "churn"), ["churn/1"], ServeOptions())
    runtime.models = {"churn": ServedModel("churn", "churn", None, "churn-v1", [])}
    runtime.ready = True
    caplog.set_level(logging.INFO, logger="relayml.serving")
    try:
        runtime._poll()
        platform.stop()
        for _ in range(5):  # five reload intervals without the platform
            runtime._poll()
        platform.start()
        for _ in range(3):
            runtime._poll()
    finally:
        remote.close()
        platform.stop()
        local.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "relayml.serving"]
    away = [line for line in lines if "failed" in line]
    back = [line for line in lines if line.endswith("works again")]
    assert len(away) == 1, lines
    assert len(back) == 1, lines
    assert "still serving the loaded versions" in away[0]
