"""Back up and restore a whole relayml store: the metadata database and the artifact store.

One tar archive holds ``manifest.json`` (format, schema revision, relayml version, dialect, row
counts and the sha256 and size of every other member), the metadata (``metadata/relay.db``, a
copy made with SQLite's online backup API, or ``metadata/relay.pgdump``, a ``pg_dump`` custom
archive) and every file under the artifact store's root (``artifacts/<path>``; blobs are
content-addressed, so a restore copies only those the target lacks). The metadata is copied
first: blobs are written before any row names them, so every blob the copy refers to exists
when the artifacts are read afterwards; a running server need not stop. Restoring is
relayml.store.restore.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import relayml
from relayml.artifacts.blobs import BlobStore
from relayml.config import redact_url
from relayml.errors import InvalidInput, MissingDependency
from relayml.store.engine import Store

__all__ = ["BackupSummary", "backup_store"]

FORMAT = 1
MANIFEST = "manifest.json"
Progress = Callable[[int, int], None]


@dataclass
class BackupSummary:
    """What went into an archive."""

    path: Path
    revision: str | None
    dialect: str
    counts: dict[str, int]
    artifacts: int
    size: int


class _HashingReader:
    """A file object that hashes what is read through it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def _pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: on PATH, else Debian's newest install."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise MissingDependency(
            f"{name} is not installed; backing up or restoring a PostgreSQL store needs the "
            "PostgreSQL client programs (apt-get install postgresql-client) on PATH."
        )
    return candidates[-1]


def _pg_env(url: str) -> dict[str, str]:
    """libpq's whole environment for a database URL: the password never on a command line, and
    only what the URL says (settings come from relayml.config, not from ambient variables)."""
    parsed = make_url(url)
    env: dict[str, str] = {"PGCONNECT_TIMEOUT": "30"}
    sslmode = parsed.query.get("sslmode")
    if isinstance(sslmode, str):
        env["PGSSLMODE"] = sslmode
    for key, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[key] = str(value)
    return env


def _run_pg(cmd: list[str], url: str, doing: str) -> None:
    proc = subprocess.run(cmd, env=_pg_env(url), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise InvalidInput(f"{doing} {redact_url(url)} failed: {last}")


def _counts(store: Store) -> dict[str, int]:
    """Rows per table (alembic_version aside)."""
    with store.read() as conn:
        names = sorted(n for n in inspect(conn).get_table_names() if n != "alembic_version")
        return {
            n: int(conn.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one()) for n in names
        }


def _blob_files(blobs: BlobStore) -> list[tuple[str, int]]:
    """Every file under the artifact root but its temp folder: (relative path, size)."""
    root = blobs.root
    if not blobs.fs.exists(root):
        return []
    found = blobs.fs.find(root, detail=True)
    files = []
    for path, info in sorted(found.items()):
        rel = path[len(root) :].lstrip("/") if path.startswith(root) else path
        if rel.startswith("tmp/") or info.get("type") != "file":
            continue
        files.append((rel, int(info.get("size") or 0)))
    return files


def _add(tar: tarfile.TarFile, name: str, fh: IO[bytes], size: int) -> str:
    """Add a member from a file object; returns its sha256."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(time.time())
    info.mode = 0o600
    reader = _HashingReader(fh)
    tar.addfile(info, reader)
    return reader.digest.hexdigest()


def backup_store(
    store: Store,
    blobs: BlobStore,
    out: Path,
    *,
    key_file: Path | None = None,
    progress: Progress | None = None,
) -> BackupSummary:
    """Write a consistent archive of the metadata and artifact stores to out."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.part")
    parts: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="relay-backup-") as tmpdir:
        revision = store.current_revision()
        counts = _counts(store)
        if store.dialect == "sqlite":
            meta_name, meta_file = "metadata/relay.db", Path(tmpdir) / "relay.db"
            database = make_url(store.url).database or ""
            src = sqlite3.connect(database)
            dst = sqlite3.connect(meta_file)
            try:
                src.backup(dst)  # SQLite's online backup: a consistent copy, writers go on
            finally:
                dst.close()
                src.close()
        else:
            meta_name, meta_file = "metadata/relay.pgdump", Path(tmpdir) / "relay.pgdump"
            cmd = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
            _run_pg([*cmd, f"--file={meta_file}"], store.url, "pg_dump of")
        files = _blob_files(blobs)
        with tarfile.open(tmp_out, "w") as tar:
            with open(meta_file, "rb") as fh:
                size = meta_file.stat().st_size
                parts[meta_name] = {"sha256": _add(tar, meta_name, fh, size), "size": size}
            if key_file is not None and key_file.is_file():
                size = key_file.stat().st_size
                with open(key_file, "rb") as fh:
                    sha = _add(tar, "keys/audit-key.pem", fh, size)
                parts["keys/audit-key.pem"] = {"sha256": sha, "size": size}
            for done, (rel, size) in enumerate(files, 1):
                with blobs.fs.open(f"{blobs.root}/{rel}", "rb") as fh:
                    parts[f"artifacts/{rel}"] = {
                        "sha256": _add(tar, f"artifacts/{rel}", fh, size),
                        "size": size,
                    }
                if progress:
                    progress(done, len(files))
            manifest = {
                "format": FORMAT,
                "relayml_version": relayml.__version__,
                "schema_revision": revision,
                "dialect": store.dialect,
                "created_ms": int(time.time() * 1000),
                "counts": counts,
                "artifacts": len(files),
                "parts": parts,
            }
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            _add(tar, MANIFEST, io.BytesIO(data), len(data))
    os.chmod(tmp_out, 0o600)
    os.replace(tmp_out, out)
    return BackupSummary(out, revision, store.dialect, counts, len(files), out.stat().st_size)
