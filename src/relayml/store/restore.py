"""Restore an archive of `relay db backup` (see relayml.store.backup for its layout).

The manifest is read and checked first (format, a schema this relayml knows, the database kind),
then every member's sha256 and size, all before the target changes; only then are the database
and the missing artifact files put in place and the schema migrated up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url

import relayml
from relayml.artifacts.blobs import CHUNK, BlobStore
from relayml.config import redact_url
from relayml.errors import Conflict, CorruptArtifact, InvalidInput
from relayml.store.backup import (
    FORMAT,
    MANIFEST,
    Progress,
    _blob_files,
    _counts,
    _pg_tool,
    _run_pg,
)
from relayml.store.engine import HEAD_REVISION, MIGRATIONS, Store

__all__ = ["RestoreSummary", "is_empty", "read_manifest", "restore_store"]

# Tables whose rows make a store "not empty" (a fresh, migrated store has none).
_CONTENT_TABLES = ("projects", "runs", "registered_models", "audit_log", "datasets")


@dataclass
class RestoreSummary:
    """What a restore did."""

    revision_in_archive: str | None
    revision_now: str | None
    counts: dict[str, int]
    artifacts_copied: int
    artifacts_present: int
    notes: list[str] = field(default_factory=list)


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
