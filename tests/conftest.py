"""Shared fixtures: a relayml backend on SQLite, on PostgreSQL, and behind a real server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.store import Store
from tests.fixtures.auth import ADMIN, ADMIN_TOKEN, SigningHttpBackend, server_env
from tests.fixtures.net import free_port, stop_process, wait_for_port
from tests.fixtures.warm_cli import spawn_relay

pytest_plugins = ["tests.fixtures.plugin"]

# pytest-xdist's workers export COLUMNS=80 and LINES=24 (a pseudo-terminal's size), which the
# CLI's Rich console then wraps to; tests that care about the width set COLUMNS themselves.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


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
def relay_server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home (embedded store) of the shared `relay_server`."""
    return tmp_path_factory.mktemp("server-home")


@pytest.fixture(scope="session")
def relay_server(relay_server_home: Path) -> Iterator[str]:
    """A real `relay server` process on loopback, with its own embedded store and auth on: its
    first administrator is alice, whose token is tests.fixtures.auth.ADMIN_TOKEN."""
    home = relay_server_home
    port = free_port()
    env = {**os.environ, **server_env(home)}
    env.pop("RELAY_SERVER_URL", None)
    env.pop("RELAY_TOKEN", None)
    proc = spawn_relay(
        ["server", "--port", str(port)], env=env, cwd=Path.cwd(), stdout=home / "server.log"
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture(params=["sqlite", "postgresql", "http"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The same operations in-process on SQLite and PostgreSQL, and over HTTP."""
    settings_args: dict[str, object] = {"home": tmp_path / "home", "user": ADMIN}
    if request.param == "http":
        url = request.getfixturevalue("relay_server")
        settings = get_settings(server_url=url, token=ADMIN_TOKEN, **settings_args)
        backend: Backend = SigningHttpBackend(
            settings, request.getfixturevalue("relay_server_home")
        )
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
