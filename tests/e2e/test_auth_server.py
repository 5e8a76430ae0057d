"""`relay server` requires identity: real server processes, as an operator starts them.

The first start prints a one-time token once; no token is 401; X-Relay-User is ignored; --no-auth
is refused off loopback; RELAY_BOOTSTRAP_TOKEN works for automation; a revoked token fails at
once on every server process sharing a PostgreSQL database.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from relayml.config import get_settings
from relayml.identity.tokens import create_token, revoke_token
from relayml.identity.users import add_user
from relayml.store import Store
from tests.fixtures.auth import ADMIN_TOKEN, token_for
from tests.fixtures.net import free_port, loopback, wait_for_port
from tests.fixtures.warm_cli import run_relay, spawn_relay

TOKEN = re.compile(r"relay_[A-Za-z0-9_\-]{20,}")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    return {**env, "RELAY_HOME": str(home), "RELAY_USER": "root", **extra}


def start(home: Path, *extra: str, **env: str) -> Server:
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"server-{port}.out"
    process = spawn_relay(
        ["server", "--port", str(port), *extra], env=_env(home, **env), cwd=Path.cwd(), stdout=log
    )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
    except TimeoutError:
        stop(server)
        raise AssertionError(log.read_text()) from None
    return server


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            stop(server)


def _get(server: Server, path: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return loopback.get(server.url + path, headers=headers, timeout=30)


def _until_answered(server: Server, path: str) -> httpx.Response:
    """The first answer of a server whose workers may still be starting."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return _get(server, path)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_first_start_prints_a_token_once(tmp_path: Path, servers: list[Server]) -> None:
    home = tmp_path / "home"
    first = start(home)
    servers.append(first)
    assert _get(first, "/healthz").status_code == 200
    assert _get(first, "/readyz").status_code == 200
    printed = TOKEN.findall(first.output())
    assert len(printed) == 1, first.output()
    secret = printed[0]
    assert _get(first, "/api/v1/projects", secret).status_code == 200
    # stored hashed: the database holds the token's SHA-256, never the token
    files = [home / "relay.db", home / "relay.db-wal"]
    database = b"".join(f.read_bytes() for f in files if f.exists())
    assert secret.encode() not in database
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in database
    stop(first)

    second = start(home)
    servers.append(second)
    assert TOKEN.findall(second.output()) == [], "a second start prints no token"
    assert _get(second, "/api/v1/projects", secret).status_code == 200


def test_no_token_is_401_and_a_claimed_name_is_ignored(
    tmp_path: Path, servers: list[Server]
) -> None:
    home = tmp_path / "home"
    server = start(home, RELAY_BOOTSTRAP_TOKEN=ADMIN_TOKEN)
    servers.append(server)
    unsigned = _get(server, "/api/v1/projects")
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "RELAY_TOKEN" in unsigned.json()["error"]["message"]
    # naming the administrator in the old header proves nothing
    assert _get(server, "/api/v1/projects", **{"X-Relay-User": "root"}).status_code == 401
    assert _get(server, "/api/v1/projects", "relay_" + "x" * 43).status_code == 401

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    made = loopback.post(server.url + "/api/v1/projects", json={"name": "p"}, headers=admin)
    assert made.status_code == 201, made.text
    bob = token_for(get_settings(home=home), "bob")
    as_bob_claiming_root = {"Authorization": f"Bearer {bob}", "X-Relay-User": "root"}
    denied = loopback.post(
        server.url + "/api/v1/projects/p/members",
        json={"user": "bob", "role": "owner"},
        headers=as_bob_claiming_root,
    )
    assert denied.status_code == 403 and "bob may not" in denied.json()["error"]["message"]
    created = loopback.post(
        server.url + "/api/v1/projects", json={"name": "bobs"}, headers=as_bob_claiming_root
    )
    assert created.status_code == 201 and created.json()["owner"] == "bob"


def test_no_auth_is_refused_off_loopback(tmp_path: Path, servers: list[Server]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for args, env in (
        (("--no-auth", "--host", "0.0.0.0"), {}),
        (("--host", "0.0.0.0"), {"RELAY_AUTH": "false"}),
    ):
        done = run_relay(
            ["server", "--port", str(free_port()), *args], env=_env(home, **env), cwd=tmp_path
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "loopback" in done.stderr and "Traceback" not in done.stderr
    assert not (home / "relay.db").exists(), "refused before it opened the store"

    local = start(home, "--no-auth")
    servers.append(local)
    assert TOKEN.findall(local.output()) == []
    assert _get(local, "/api/v1/projects").status_code == 200  # one person: the local user
    stop(local)
    # uvicorn's workers build their own app: without auth too, and with auth by default
    for args, unsigned in ((("--no-auth", "--workers", "2"), 200), (("--workers", "2"), 401)):
        workers = start(home, *args)
        servers.append(workers)
        assert _until_answered(workers, "/api/v1/projects").status_code == unsigned
        stop(workers)


def test_the_bootstrap_token_setting(tmp_path: Path, servers: list[Server]) -> None:
    bad = run_relay(
        ["server", "--port", str(free_port())],
        env=_env(tmp_path / "bad", RELAY_BOOTSTRAP_TOKEN="relay_short"),
        cwd=tmp_path,
    )
    assert bad.returncode == 1 and "RELAY_BOOTSTRAP_TOKEN must look like" in bad.stderr
    assert "relay_short" not in bad.stderr + bad.stdout

    server = start(tmp_path / "home", RELAY_BOOTSTRAP_TOKEN=ADMIN_TOKEN)
    servers.append(server)
    assert TOKEN.findall(server.output()) == [], "a given token is not printed"
    me = _get(server, "/api/v1/projects", ADMIN_TOKEN)
    assert me.status_code == 200
    made = loopback.post(
        server.url + "/api/v1/projects",
        json={"name": "auto"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert made.status_code == 201 and made.json()["owner"] == "root"


def test_a_revoked_token_fails_at_once_on_every_server_process(
    tmp_path: Path, servers: list[Server], pg_database_url: str
) -> None:
    Store(pg_database_url, migrate=True).dispose()
    shared = {"RELAY_DATABASE_URL": pg_database_url, "RELAY_ARTIFACTS_URL": str(tmp_path / "a")}
    one = start(tmp_path / "one", RELAY_BOOTSTRAP_TOKEN=ADMIN_TOKEN, **shared)
    servers.append(one)
    two = start(tmp_path / "two", **shared)
    servers.append(two)
    assert TOKEN.findall(two.output()) == [], "the second process found the administrator"

    store = Store(pg_database_url)
    try:
        add_user(store, "root", "carol")
        info, secret = create_token(store, "root", "carol", "laptop")
        for server in (one, two):
            assert _get(server, "/api/v1/projects", secret).status_code == 200
        revoke_token(store, "root", info.id)
        for server in (one, two):
            assert _get(server, "/api/v1/projects", secret).status_code == 401
            assert _get(server, "/api/v1/projects", ADMIN_TOKEN).status_code == 200
    finally:
        store.dispose()
