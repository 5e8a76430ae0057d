"""Blobs on a local folder and on S3 (moto's real server): atomic, deduplicated, verified."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from relayml.artifacts import BlobStore
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.errors import CorruptArtifact, NotFound
from relayml.sdk import download_artifact


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobStore(str(tmp_path / "artifacts"))
    bucket: Any = request.getfixturevalue("s3_bucket")
    return BlobStore(bucket.url, {**bucket.storage_options, "skip_instance_cache": True})


def test_content_is_stored_once_and_read_back_verified(blobs: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read chunk
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    sha, size = blobs.put_file(source)
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    assert blobs.put_bytes(data) == (sha, size)
    assert blobs.size(sha) == len(data)
    assert blobs.get_bytes(sha) == data
    out = blobs.get_file(sha, tmp_path / "out" / "model.bin")
    assert out.read_bytes() == data
    blob_files = [p for p in blobs.fs.find(f"{blobs.root}/sha256")]
    assert len(blob_files) == 1  # identical content, one blob


def test_missing_and_corrupt_blobs_are_reported(blobs: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="is not in the artifact store"):
        blobs.get_bytes("0" * 64)
    assert blobs.size("0" * 64) is None
    sha, _ = blobs.put_bytes(b"the real content")
    blobs.fs.pipe_file(blobs.path_of(sha), b"tampered content")
    with pytest.raises(CorruptArtifact, match="corrupt"):
        blobs.get_bytes(sha)
    with pytest.raises(CorruptArtifact):
        blobs.get_file(sha, tmp_path / "never.bin")
    assert not (tmp_path / "never.bin").exists()


def test_runs_keep_artifacts_on_s3(s3_bucket: Any, tmp_path: Path) -> None:
    settings = get_settings(
        home=tmp_path / "home",
        artifacts_url=s3_bucket.url,
        artifacts_options=s3_bucket.storage_options,
    )
    backend = LocalBackend(settings)
    backend.create_project("s3proj")
    run = backend.create_run("s3proj", "e")
    (tmp_path / "weights.bin").write_bytes(b"w" * 1000)
    artifact = backend.log_artifact(run.id, "model/weights.bin", tmp_path / "weights.bin")
    assert artifact.size == 1000
    got = download_artifact(run.id, "model/weights.bin", tmp_path / "back.bin", backend=backend)
    assert got.read_bytes() == b"w" * 1000
    backend.close()


UPLOADER = textwrap.dedent(
    """
    import sys
    from relayml.backend import LocalBackend
    from relayml.config import get_settings
    backend = LocalBackend(get_settings(home=sys.argv[1]))
    backend.log_artifact(sys.argv[2], "big.bin", sys.argv[3])
    print("finished", flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_during_an_upload_leaves_nothing_visible(tmp_path: Path) -> None:
    home = tmp_path / "home"
    backend = LocalBackend(get_settings(home=home))
    backend.create_project("crash")
    run = backend.create_run("crash", "e")
    big = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    with open(big, "wb") as fh:
        for _ in range(768):
            fh.write(block)
    tmp_dir = Path(backend.blobs.root) / "tmp"
    proc = subprocess.Popen(
        [sys.executable, "-c", UPLOADER, str(home), run.id, str(big)], stdout=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not any(tmp_dir.iterdir()):  # the copy into the store has begun
        assert proc.poll() is None, "the upload finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None and b"finished" not in proc.stdout.read()
    proc.stdout.close()
    # Nothing half-written is visible: no artifact row, no blob under its hash.
    assert backend.list_artifacts(run.id) == []
    assert not list((Path(backend.blobs.root) / "sha256").rglob("*")) or all(
        p.is_dir() for p in (Path(backend.blobs.root) / "sha256").rglob("*")
    )
    # The store is consistent and the same upload now succeeds.
    again = backend.log_artifact(run.id, "big.bin", big)
    assert again.size == 768 * 1024 * 1024
    assert backend.list_artifacts(run.id)[0].sha256 == again.sha256
    backend.close()
