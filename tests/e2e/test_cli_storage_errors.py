"""An artifact store that refuses or cannot be reached: one sentence on stderr, exit 1.

Against moto's real S3 server: no credentials, credentials the server refuses (a second moto
server with authentication on), a bucket that does not exist, an endpoint nobody listens on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from relayml.artifacts import BlobStore
from relayml.errors import StorageUnavailable
from tests.fixtures.net import free_port, wait_for_port
from tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY, S3Bucket
from tests.fixtures.warm_cli import run_relay

CSV = "customer_id,tenure_months\n1,3\n2,40\n"


@pytest.fixture(scope="module")
def s3_with_auth() -> Iterator[str]:
    """A moto S3 server that checks credentials: every key it has not issued gets 403."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    moto = Path(sys.executable).with_name("moto_server")
    server = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


Options = dict[str, object]


def _relay(
    tmp_path: Path, url: str, options: Options, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`relay ARGS` in a child process on a fresh SQLite store whose artifacts are at url."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "AWS_"))}
    env |= {
        "RELAY_HOME": str(tmp_path / "home"),
        "RELAY_ARTIFACTS_URL": url,
        "RELAY_ARTIFACTS_OPTIONS": json.dumps(options),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "COLUMNS": "200",
        **extra,
    }
    return run_relay(args, env=env, cwd=tmp_path, timeout=180)


def _log_dataset_fails(tmp_path: Path, url: str, options: Options, **env: str) -> str:
    """Log a dataset to the broken store; assert one sentence, exit 1, nothing recorded."""
    created = _relay(tmp_path, url, options, "projects", "create", "churn", **env)
    assert created.returncode == 0, created.stderr
    (tmp_path / "customers.csv").write_text(CSV)
    out = _relay(tmp_path, url, options, "datasets", "log", "customers", "customers.csv", **env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "botocore" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    said = " ".join(line for line in lines if not line.startswith("Project:"))
    assert said.startswith("Error: ") and url in said, out.stderr
    listed = _relay(tmp_path, url, options, "datasets", "list", "--json", **env)
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stdout
    return said


def test_no_credentials_names_the_variables_to_set(
    s3_server: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    said = _log_dataset_fails(tmp_path, s3_bucket.url, {"endpoint_url": s3_server})
    assert "needs credentials and none were found" in said
    assert "AWS_ACCESS_KEY_ID" in said and "RELAY_ARTIFACTS_OPTIONS" in said


def test_credentials_the_server_refuses(s3_with_auth: str, tmp_path: Path) -> None:
    options = {"endpoint_url": s3_with_auth, "key": "wrong", "secret": "wrong"}
    said = _log_dataset_fails(tmp_path, "s3://relay-artifacts/x", options)
    assert "refused the credentials" in said and s3_with_auth in said
    assert "AWS_SECRET_ACCESS_KEY" in said and "'relay-artifacts'" in said


def test_a_missing_bucket_is_named(s3_server: str, tmp_path: Path) -> None:
    bucket = f"relayml-missing-{uuid.uuid4().hex[:12]}"
    options = {"endpoint_url": s3_server, "key": ACCESS_KEY, "secret": SECRET_KEY}
    said = _log_dataset_fails(tmp_path, f"s3://{bucket}/artifacts", options)
    assert f"the bucket {bucket!r}" in said and "does not exist" in said
    assert "create it" in said


def test_an_endpoint_nobody_listens_on(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    options = {"endpoint_url": endpoint, "key": ACCESS_KEY, "secret": SECRET_KEY}
    said = _log_dataset_fails(tmp_path, "s3://relay-artifacts/x", options)
    assert "cannot reach the artifact store at s3://relay-artifacts/x" in said
    assert endpoint in said and "endpoint_url" in said


def test_reading_from_a_store_that_refuses_keeps_the_cause(s3_bucket: S3Bucket) -> None:
    good = BlobStore(s3_bucket.url, {**s3_bucket.storage_options, "skip_instance_cache": True})
    sha256, _ = good.put_bytes(b"model bytes")
    missing = BlobStore(
        s3_bucket.url.replace(s3_bucket.name, s3_bucket.name + "-gone"),
        {**s3_bucket.storage_options, "skip_instance_cache": True},
    )
    with pytest.raises(StorageUnavailable, match="does not exist") as caught:
        missing.get_bytes(sha256)
    assert isinstance(caught.value.__cause__, FileNotFoundError)  # the original, kept
    assert good.get_bytes(sha256) == b"model bytes"


def test_other_readers_of_the_store_get_one_sentence_too(
    s3_server: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """The prediction log is read outside BlobStore; the CLI's last boundary translates it."""
    options = {"endpoint_url": s3_server}
    assert _relay(tmp_path, s3_bucket.url, options, "projects", "create", "churn").returncode == 0
    out = _relay(tmp_path, s3_bucket.url, options, "predictions", "compact")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert "needs credentials and none were found while running `relay predictions`" in out.stderr
