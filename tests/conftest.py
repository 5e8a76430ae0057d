"""Shared fixtures: a relayml backend on SQLite, on PostgreSQL, and behind a real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.store import Store
from tests.fixtures.net import free_port, wait_for_port

pytest_plugins = ["tests.fixtures.plugin"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh embedded SQLite store URL."""
    return f"sqlite:///{tmp_path / 'relay.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated metadata store on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'relay.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    Store(url, migrate=True).dispose()
    return url


@pytest.fixture(scope="session")
def relay_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real relay API server process on loopback, with its own embedded store."""
    home = tmp_path_factory.mktemp("server-home")
    port = free_port()
    env = {**os.environ, "RELAY_HOME": str(home), "RELAY_USER": "server-admin"}
    env.pop("RELAY_SERVER_URL", None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "relayml.api.app:app_from_environment",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
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
        log.close()


@pytest.fixture(params=["sqlite", "postgresql", "http"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The same operations in-process on SQLite and PostgreSQL, and over HTTP."""
    settings_args: dict[str, object] = {"home": tmp_path / "home", "user": "alice"}
    if request.param == "http":
        from relayml.client import HttpBackend

        url = request.getfixturevalue("relay_server")
        backend: Backend = HttpBackend(get_settings(server_url=url, **settings_args))
    else:
        if request.param == "postgresql":
            settings_args["database_url"] = request.getfixturevalue("store_url_pg")
        backend = LocalBackend(get_settings(**settings_args))
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def store_url_pg(pg_database_url: str) -> str:
    """A fresh PostgreSQL database migrated to the newest schema."""
    Store(pg_database_url, migrate=True).dispose()
    return pg_database_url


@pytest.fixture
def project(backend: Backend) -> str:
    """A fresh project (unique name, so tests can share one server)."""
    name = f"p-{uuid.uuid4().hex[:10]}"
    backend.create_project(name, business_question="does it work?")
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url_or_fresh(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty (not migrated) database on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url
