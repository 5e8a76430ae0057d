"""The audit chain's port operations on every transport (SQLite, PostgreSQL, HTTP), and a real
`relay server` process: tampering with its database shows over HTTP, its scheduler signs the
head, and the export streams."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from tests.fixtures.auth import ADMIN_TOKEN, server_env
from tests.fixtures.net import free_port, stop_process, wait_for_port

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_verify_checkpoint_list_and_export_on_every_transport(
    backend: Backend, project: str
) -> None:
    backend.create_experiment(project, "x", description="for the audit")
    assert backend.verify_audit().ok
    signed = backend.create_audit_checkpoint()
    assert signed.key_id and signed.public_key and signed.entry_id >= 2
    assert backend.list_audit_checkpoints(1)[0].id == signed.id
    checked = backend.verify_audit(signed)
    assert checked.ok and checked.checkpoint_entry_id == signed.entry_id, checked.message
    edited = signed.model_copy(update={"at": signed.at + 1})
    refused = backend.verify_audit(edited)
    assert not refused.ok and refused.problem == "checkpoint"
    (entry,) = backend.export_audit(entity_kind="experiment", entity_id=f"{project}/x")
    assert entry["action"] == "experiment.create" and len(entry["hash"]) == 64
    assert entry["after"]["description"] == "for the audit"
    with pytest.raises(InvalidInput):
        backend.list_audit_checkpoints(0)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A relay server process with its own SQLite store, checkpointing every 0.3 s."""
    home = tmp_path / "server-home"
    port = free_port()
    env = {
        **os.environ,
        **server_env(home),
        "RELAY_AUDIT_CHECKPOINT_INTERVAL": "0.3",
        "RELAY_MONITOR_INTERVAL": "0",
    }
    env.pop("RELAY_SERVER_URL", None)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "relayml.api.app:app_from_environment", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield f"http://127.0.0.1:{port}", home
    finally:
        stop_process(proc)
        log.close()
    shown = (tmp_path / "server.log").read_text()
    assert "Application shutdown complete" in shown and "Traceback" not in shown, shown


def test_a_server_signs_its_head_on_a_schedule_and_shows_tampering(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    url, home = server
    client = HttpBackend(get_settings(server_url=url, token=ADMIN_TOKEN, home=tmp_path / "client"))
    try:
        name = f"p-{uuid.uuid4().hex[:8]}"
        client.create_project(name)
        for n in range(250):  # more than one chunk of the streamed export
            client.create_experiment(name, f"e{n}")
        head = client.verify_audit()
        made = 2 + 1 + 250  # the first administrator and their token, the project, experiments
        assert head.ok and head.entries == made
        deadline = time.monotonic() + 60
        scheduled = []
        while time.monotonic() < deadline:
            scheduled = [c for c in client.list_audit_checkpoints() if c.entry_id == made]
            if scheduled:
                break
            time.sleep(0.1)
        assert scheduled and scheduled[0].created_by == "relay-server"
        assert client.verify_audit(scheduled[0]).ok
        exported = list(client.export_audit())
        assert [e["id"] for e in exported] == list(range(1, made + 1))
        with sqlite3.connect(home / "relay.db") as db:
            db.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 120")
        broken = client.verify_audit()
        assert (broken.ok, broken.problem, broken.entry_id) == (False, "changed", 120)
        assert "entry 120 was changed" in broken.message
    finally:
        client.close()
    assert (home / "audit-ed25519.pem").stat().st_mode & 0o777 == 0o600


def test_the_api_refuses_half_a_checkpoint_and_bad_filters(relay_server: str) -> None:
    import httpx

    with httpx.Client(base_url=relay_server + "/api/v1", headers=ADMIN_HEADERS) as http:
        half = http.get("/audit/verify", params={"entry_id": 3, "hash": "ab"})
        assert half.status_code == 422
        assert "missing: at, key_id, public_key, signature" in half.json()["error"]["message"]
        bad_key = http.get(
            "/audit/verify",
            params={"entry_id": 1, "hash": "a", "at": 1, "key_id": "k", "signature": "s",
                    "public_key": "not a key"},
        )  # fmt: skip
        assert bad_key.status_code == 422 and "Ed25519" in bad_key.json()["error"]["message"]
        assert http.get("/audit/export", params={"since": "soon"}).status_code == 422
        streamed = http.get("/audit/export", params={"actor": "nobody-at-all"})
        assert streamed.status_code == 200 and streamed.text == ""
        assert streamed.headers["content-type"].startswith("application/x-ndjson")
