"""Nothing planted in a store leads a download out of it: symbolic links, hand-written paths.

A symbolic link planted in a local artifact store is never followed out of it.

Blobs are addressed by their sha256, so a path from a caller never names a file; but whoever can
write in the store's folder (a shared disk, a careless restore) could replace a blob with a link
to /etc/passwd or the server's key. The hash is checked only once the bytes have been read, so a
download over HTTP would already have sent the outside file. The store refuses to open a blob
that resolves outside its folder: in-process (SDK), over HTTP and from the CLI. And a row whose
path climbs out (``plots/../../escaped.txt``: written by hand, by an old version, or sent by a
server that lies) never makes a folder download write outside the folder it was given.

The server here is its own process on a home this test controls (the shared `relay_server`
fixture keeps its folder to itself), started as that fixture starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.errors import CorruptArtifact, InvalidInput, RelayError
from relayml.sdk import download_artifact
from relayml.store import now_ms
from relayml.store.schema import artifacts
from tests.fixtures.auth import ADMIN_TOKEN, client_env, server_env
from tests.fixtures.net import free_port, loopback, stop_process, wait_for_port

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

SECRET = b"TOP-SECRET: the server's private key"
CLIMBING = "plots/../../escaped.txt"


@dataclass
class Planted:
    """A store whose notes.txt blob was replaced by a link to a file outside the store."""

    home: Path
    run_id: str
    sha256: str
    url: str


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[Planted]:
    home = tmp_path / "home"
    backend = LocalBackend(get_settings(home=home, user="dana"))
    backend.create_project("p")
    run = backend.create_run("p", "e")
    (tmp_path / "notes.txt").write_bytes(b"harmless " * 50)  # longer than the secret
    artifact = backend.log_artifact(run.id, "notes.txt", tmp_path / "notes.txt")
    backend.log_artifact(run.id, "kept.txt", tmp_path / "notes.txt")  # same blob, another name
    blob = Path(backend.blobs.path_of(artifact.sha256))
    (tmp_path / "ok.txt").write_bytes(b"fine")
    fine = backend.log_artifact(run.id, "plots/ok.txt", tmp_path / "ok.txt")
    with backend.store.write() as conn:  # what validation would refuse, written by hand
        conn.execute(
            artifacts.insert().values(
                run_id=run.id,
                path=CLIMBING,
                sha256=fine.sha256,
                size=fine.size,
                created_at=now_ms(),
            )
        )
    backend.close()
    outside = tmp_path / "outside" / "key.pem"
    outside.parent.mkdir()
    outside.write_bytes(SECRET)
    blob.unlink()
    blob.symlink_to(outside)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env |= server_env(home)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "uvicorn", "relayml.api.app:app_from_environment"]
    proc = subprocess.Popen(
        [*command, "--factory", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield Planted(home, run.id, artifact.sha256, f"http://127.0.0.1:{port}")
    finally:
        stop_process(proc)
        log.close()


def _nothing_written(folder: Path) -> None:
    found = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    assert all(SECRET not in p.read_bytes() for p in found), found


def test_the_sdk_in_process_refuses_the_link(planted: Planted, tmp_path: Path) -> None:
    backend = LocalBackend(get_settings(home=planted.home, user="dana"))
    try:
        with pytest.raises(CorruptArtifact, match="outside the store"):
            download_artifact(planted.run_id, "notes.txt", tmp_path / "out.txt", backend=backend)
        with pytest.raises(CorruptArtifact):
            backend.blobs.get_bytes(planted.sha256)
    finally:
        backend.close()
    _nothing_written(tmp_path / "out.txt")


def test_the_server_answers_an_error_and_never_the_outside_file(planted: Planted) -> None:
    api = planted.url + "/api/v1"
    answer = loopback.get(f"{api}/runs/{planted.run_id}/artifacts/notes.txt", headers=AUTH)
    assert answer.status_code >= 400
    assert SECRET not in answer.content
    assert "outside the store" in answer.json()["error"]["message"]
    # the content-addressed route streams its answer: it may break off, never carry the file
    try:
        with loopback.stream("GET", f"{api}/blobs/{planted.sha256}", headers=AUTH) as blob:
            received = b"".join(blob.iter_bytes())
    except httpx.HTTPError:
        received = b""
    assert SECRET not in received


def test_the_sdk_and_cli_over_http_write_nothing(planted: Planted, tmp_path: Path) -> None:
    backend = HttpBackend(
        get_settings(server_url=planted.url, token=ADMIN_TOKEN, home=tmp_path / "client")
    )
    try:
        with pytest.raises(RelayError):
            download_artifact(planted.run_id, "kept.txt", tmp_path / "sdk", backend=backend)
    finally:
        backend.close()
    _nothing_written(tmp_path / "sdk")
    env = {**client_env(planted.url), "RELAY_HOME": str(tmp_path / "client")}
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["artifacts", "download", planted.run_id, "notes.txt", "--out", str(out)], env=env
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert SECRET.decode() not in result.output
    _nothing_written(out)


def _nothing_escaped(tmp_path: Path) -> None:
    assert not list(tmp_path.rglob("escaped.txt"))


def test_a_stored_path_that_climbs_out_is_refused_in_process(
    planted: Planted, tmp_path: Path
) -> None:
    backend = LocalBackend(get_settings(home=planted.home, user="dana"))
    try:
        with pytest.raises(InvalidInput, match=r"'\.\.' segments"):
            download_artifact(planted.run_id, "plots", tmp_path / "a" / "dl", backend=backend)
    finally:
        backend.close()
    _nothing_escaped(tmp_path)


def test_a_stored_path_that_climbs_out_is_refused_over_http_and_by_the_cli(
    planted: Planted, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    backend = HttpBackend(
        get_settings(server_url=planted.url, token=ADMIN_TOKEN, home=work / "client")
    )
    try:
        assert CLIMBING in [a.path for a in backend.list_artifacts(planted.run_id, "plots")]
        with pytest.raises(InvalidInput):
            download_artifact(planted.run_id, "plots", work / "a" / "dl", backend=backend)
    finally:
        backend.close()
    env = {**client_env(planted.url), "RELAY_HOME": str(work / "client")}
    out = work / "b" / "cli"
    result = CliRunner().invoke(
        app, ["artifacts", "download", planted.run_id, "plots", "--out", str(out)], env=env
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    _nothing_escaped(tmp_path)
