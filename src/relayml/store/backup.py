"""Back up and restore a whole relayml store: the metadata database and the artifact store.

One tar archive holds ``manifest.json`` (format, schema revision, relayml version, dialect, row
counts and the sha256 and size of every other member), the metadata (``metadata/relay.db``, a
copy made with SQLite's online backup API, or ``metadata/relay.pgdump``, a ``pg_dump`` custom
archive) and every file under the artifact store's root (``artifacts/<path>``; blobs are
content-addressed, so a restore copies only those the target lacks). The metadata is copied
first: blobs are written before any row names them, so every blob the copy refers to exists
when the artifacts are read afterwards; a running server need not stop.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import make_url

import relayml
from relayml.artifacts.blobs import CHUNK, BlobStore
from relayml.config import redact_url
from relayml.errors import Conflict, CorruptArtifact, InvalidInput, MissingDependency
from relayml.store.engine import HEAD_REVISION, MIGRATIONS, Store

__all__ = ["BackupSummary", "RestoreSummary", "backup_store", "read_manifest", "restore_store"]

FORMAT = 1
MANIFEST = "manifest.json"
Progress = Callable[[int, int], None]
# Tables whose rows make a store "not empty" (a fresh, migrated store has none).
_CONTENT_TABLES = ("projects", "runs", "registered_models", "audit_log", "datasets")


@dataclass
class BackupSummary:
    """What went into an archive."""

    path: Path
    revision: str | None
    dialect: str
    counts: dict[str, int]
    artifacts: int
    size: int


@dataclass
class RestoreSummary:
    """What a restore did."""

    revision_in_archive: str | None
    revision_now: str | None
    counts: dict[str, int]
    artifacts_copied: int
    artifacts_present: int
    notes: list[str] = field(default_factory=list)


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


def _known_revisions() -> set[str]:
    return {p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*.py")}


def read_manifest(archive: Path) -> dict[str, Any]:
    """The archive's manifest, checked: a relayml backup of a schema this relayml knows."""
    try:
        with tarfile.open(archive, "r") as tar:
            member = tar.getmember(MANIFEST)
            fh = tar.extractfile(member)
            assert fh is not None
            manifest: dict[str, Any] = json.loads(fh.read())
    except FileNotFoundError:
        raise InvalidInput(
            f"{archive} does not exist; give the path of a `relay db backup` archive."
        ) from None
    except (tarfile.TarError, KeyError, ValueError, OSError) as exc:
        raise CorruptArtifact(
            f"{archive} is not a readable relayml backup ({exc}); use an archive written by "
            "`relay db backup`."
        ) from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("parts"), dict):
        raise CorruptArtifact(
            f"{archive} has no relayml backup manifest of format {FORMAT}; use an archive "
            "written by `relay db backup`."
        )
    revision = manifest.get("schema_revision")
    if revision is not None and revision not in _known_revisions():
        raise InvalidInput(
            f"{archive} holds schema revision {revision}, newer than this relayml "
            f"{relayml.__version__} knows (its newest is {HEAD_REVISION}); restore it with the "
            f"relayml it came from ({manifest.get('relayml_version')}) or newer."
        )
    return manifest


@contextmanager
def _verified(archive: Path, manifest: dict[str, Any]) -> Iterator[tarfile.TarFile]:
    """The open archive, after every member's hash and size were checked against the manifest."""
    parts: dict[str, dict[str, Any]] = manifest["parts"]
    seen = set()
    with tarfile.open(archive, "r") as tar:
        for member in tar:
            if member.name == MANIFEST:
                continue
            expected = parts.get(member.name)
            fh = tar.extractfile(member)
            if expected is None or fh is None:
                raise CorruptArtifact(
                    f"{archive} holds {member.name!r}, which its manifest does not list; the "
                    "archive was altered. Use an intact backup."
                )
            digest = hashlib.sha256()
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
            if digest.hexdigest() != expected["sha256"] or member.size != expected["size"]:
                raise CorruptArtifact(
                    f"{archive} is corrupt: {member.name} does not match the sha256 in its "
                    "manifest. Use an intact backup."
                )
            seen.add(member.name)
        missing = sorted(set(parts) - seen)
        if missing:
            raise CorruptArtifact(
                f"{archive} is incomplete: {missing[0]} (and {len(missing) - 1} more) listed in "
                "its manifest are missing. Use an intact backup."
            )
        yield tar


def is_empty(store: Store, blobs: BlobStore) -> bool:
    """True when the store holds no projects, runs, models, audit entries or artifacts."""
    counts = _counts(store)
    if any(counts.get(name, 0) for name in _CONTENT_TABLES):
        return False
    return not _blob_files(blobs)


def _drop_all(store: Store) -> None:
    """Remove every table of a PostgreSQL database (a restore with --yes replaces them)."""
    with store.write() as conn:
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def restore_store(
    archive: Path,
    url: str,
    blobs: BlobStore,
    *,
    replace: bool = False,
    key_file: Path | None = None,
    progress: Progress | None = None,
) -> RestoreSummary:
    """Restore an archive into the database at url and the artifact store; migrate it up."""
    archive = Path(archive)
    manifest = read_manifest(archive)
    dialect = make_url(url).get_backend_name()
    if manifest.get("dialect") != dialect:
        raise InvalidInput(
            f"{archive} holds a {manifest.get('dialect')} database and RELAY_DATABASE_URL is "
            f"{dialect}; restore it into a {manifest.get('dialect')} database."
        )
    target = Store(url, migrate=True)
    try:
        if not replace and not is_empty(target, blobs):
            raise Conflict(
                f"the store at {redact_url(url)} is not empty; restoring would replace it. "
                "Pass --yes to replace it, or point RELAY_HOME / RELAY_DATABASE_URL elsewhere."
            )
        with _verified(archive, manifest) as tar, tempfile.TemporaryDirectory() as tmpdir:
            notes = _restore_metadata(tar, manifest, target, Path(tmpdir))
            copied, present = _restore_artifacts(tar, manifest, blobs, progress)
            if key_file is not None and "keys/audit-key.pem" in manifest["parts"]:
                notes.append(_restore_key(tar, key_file, replace=replace))
    finally:
        target.dispose()
    restored = Store(url, migrate=True)
    try:
        now = restored.current_revision()
        counts = _counts(restored)
    finally:
        restored.dispose()
    return RestoreSummary(manifest.get("schema_revision"), now, counts, copied, present, notes)


def _restore_metadata(
    tar: tarfile.TarFile, manifest: dict[str, Any], target: Store, tmpdir: Path
) -> list[str]:
    name = "metadata/relay.db" if target.dialect == "sqlite" else "metadata/relay.pgdump"
    if name not in manifest["parts"]:
        raise CorruptArtifact(f"the archive has no {name}; use an archive from `relay db backup`.")
    fh = tar.extractfile(name)
    assert fh is not None
    local = tmpdir / Path(name).name
    with open(local, "wb") as out:
        shutil.copyfileobj(fh, out, CHUNK)
    if target.dialect == "sqlite":
        target.dispose()
        database = make_url(target.url).database or ""
        src = sqlite3.connect(local)
        dst = sqlite3.connect(database)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        _drop_all(target)
        target.dispose()
        cmd = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
        _run_pg(
            [*cmd, "--single-transaction", f"--dbname={_libpq_dbname(target.url)}", str(local)],
            target.url,
            "pg_restore into",
        )
    return []


def _libpq_dbname(url: str) -> str:
    return make_url(url).database or "postgres"


def _restore_artifacts(
    tar: tarfile.TarFile, manifest: dict[str, Any], blobs: BlobStore, progress: Progress | None
) -> tuple[int, int]:
    names = sorted(n for n in manifest["parts"] if n.startswith("artifacts/"))
    copied = present = 0
    for done, name in enumerate(names, 1):
        rel = name[len("artifacts/") :]
        if ".." in rel.split("/"):
            raise CorruptArtifact(f"the archive member {name!r} leaves the artifact store.")
        target = f"{blobs.root}/{rel}"
        if blobs.fs.exists(target):
            present += 1
        else:
            fh = tar.extractfile(name)
            assert fh is not None
            with tempfile.NamedTemporaryFile(prefix="relay-restore-", delete=False) as tmp:
                shutil.copyfileobj(fh, tmp, CHUNK)
            try:
                if rel.startswith("sha256/"):
                    blobs.put_file(tmp.name)
                else:
                    blobs.fs.makedirs(os.path.dirname(target), exist_ok=True)
                    blobs.fs.put_file(tmp.name, target)
            finally:
                os.unlink(tmp.name)
            copied += 1
        if progress:
            progress(done, len(names))
    return copied, present


def _restore_key(tar: tarfile.TarFile, key_file: Path, *, replace: bool) -> str:
    """Put the archived audit signing key in place (its checkpoints verify only with it)."""
    fh = tar.extractfile("keys/audit-key.pem")
    assert fh is not None
    data = fh.read()
    if key_file.exists() and key_file.read_bytes() != data and not replace:
        return f"kept the different audit signing key already at {key_file}"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_file.with_name(f".{key_file.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, key_file)
    return f"restored the audit signing key to {key_file}"
