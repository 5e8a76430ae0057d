"""`relay db backup` / `relay db restore` round-trip a whole store, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from typer.testing import CliRunner

import relayml as relay
from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings


def _env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {"RELAY_HOME": str(home), "RELAY_SERVER_URL": "", "RELAY_TOKEN": ""}
    if database_url:
        env["RELAY_DATABASE_URL"] = database_url
    return env


def _cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str | None, str | None]]:
    """A source and an empty target database URL (None: the home's embedded SQLite)."""
    if request.param == "sqlite":
        yield None, None
        return
    source: str = request.getfixturevalue("store_url_pg")
    server = request.getfixturevalue("pg_server")
    name = f"relayml_restore_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield source, server.url(name)
    finally:
        with server.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _snapshot(home: Path, database_url: str | None, run_id: str) -> dict[str, Any]:
    """What a user reads back: the run, its metric history, artifact bytes, models, audit."""
    args: dict[str, Any] = {"home": home}
    if database_url:
        args["database_url"] = database_url
    backend = LocalBackend(get_settings(**args))
    try:
        run = backend.get_run(run_id)
        artifacts = {
            a.path: backend.blobs.get_bytes(a.sha256) for a in backend.list_artifacts(run_id)
        }
        audit = backend.verify_audit()
        return {
            "run": run.model_dump(),
            "history": [p.model_dump() for p in backend.get_metric_history(run_id, "loss")],
            "artifacts": artifacts,
            "versions": [v.model_dump() for v in backend.list_model_versions("bk", "clf")],
            "audit_ok": audit.ok,
            "audit_entries": audit.entries,
            "audit_head": audit.head_hash,
        }
    finally:
        backend.close()


def test_backup_then_restore_reads_back_identical(
    two_stores: tuple[str | None, str | None], tmp_path: Path
) -> None:
    source_url, target_url = two_stores
    src, dst = tmp_path / "src", tmp_path / "dst"
    relay.init(project="bk", home=src, database_url=source_url)
    picture = tmp_path / "plot.bin"
    picture.write_bytes(b"\x00\x01relayml" * 1000)
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), [0, 0, 1, 1])
    with relay.start_run(experiment="baseline") as run:
        run.log_params({"C": 1.0})
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1))
        run.log_artifact(picture)
        run.log_model(model, "clf", [{"x": 0.5}])
    relay.init(project="teardown", home=tmp_path / "teardown")
    before = _snapshot(src, source_url, run.id)
    assert before["audit_ok"] and before["audit_entries"] > 0 and before["versions"]

    archive = tmp_path / "backup.tar"
    made = _cli(_env(src, source_url), "db", "backup", "--out", str(archive), "--json")
    assert made.exit_code == 0, made.output
    info = json.loads(made.stdout)
    assert info["artifacts"] >= 2 and info["rows"] > 0

    restored = _cli(_env(dst, target_url), "db", "restore", str(archive), "--quiet")
    assert restored.exit_code == 0, restored.output
    assert "Audit chain OK" in restored.stdout
    after = _snapshot(dst, target_url, run.id)
    assert after == before

    # The restored store is not empty now: a second restore without --yes is refused, in one
    # line, and changes nothing; with --yes it replaces the store and every blob is present.
    again = _cli(_env(dst, target_url), "db", "restore", str(archive), "--quiet")
    assert again.exit_code == 1
    assert "is not empty" in again.output and "--yes" in again.output
    assert len(again.output.strip().splitlines()) == 1
    forced = _cli(_env(dst, target_url), "db", "restore", str(archive), "--quiet", "--yes")
    assert forced.exit_code == 0, forced.output
    assert "0 artifact files copied" in forced.stdout
    assert _snapshot(dst, target_url, run.id) == before


def _rewrite(archive: Path, out: Path, change: dict[str, bytes | None]) -> None:
    """Copy an archive, replacing (bytes) or dropping (None) members by name."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src:
            fh = src.extractfile(member)
            assert fh is not None
            data = fh.read()
            if member.name in change:
                if change[member.name] is None:
                    continue
                data = change[member.name] or b""
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            import io

            dst.addfile(info, io.BytesIO(data))


def test_a_damaged_or_newer_archive_is_refused_and_the_target_stays_empty(tmp_path: Path) -> None:
    src = tmp_path / "src"
    relay.init(project="bk", home=src)
    with relay.start_run(experiment="e") as run:
        run.log_metric("loss", 0.5)
    relay.init(project="teardown", home=tmp_path / "teardown")
    archive = tmp_path / "backup.tar"
    assert _cli(_env(src, None), "db", "backup", "-o", str(archive), "--quiet").exit_code == 0
    with tarfile.open(archive) as tar:
        fh = tar.extractfile("manifest.json")
        assert fh is not None
        manifest = json.loads(fh.read())
    db = "metadata/relay.db"

    corrupt = tmp_path / "corrupt.tar"
    _rewrite(archive, corrupt, {db: b"not a database"})
    newer = tmp_path / "newer.tar"
    _rewrite(
        archive,
        newer,
        {"manifest.json": json.dumps({**manifest, "schema_revision": "9999"}).encode()},
    )
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[:1500])

    cases = {
        corrupt: "does not match the sha256 in its manifest",
        newer: "holds schema revision 9999, newer than this relayml",
        truncated: "is not a readable relayml backup",
        tmp_path / "absent.tar": "does not exist",
    }
    for i, (path, message) in enumerate(cases.items()):
        home = tmp_path / f"dst{i}"
        result = _cli(_env(home, None), "db", "restore", str(path), "--quiet")
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        counts = _cli(_env(home, None), "runs", "list", "-p", "bk", "--json")
        assert "runs" not in counts.stdout or json.loads(counts.stdout or "[]") == []


def test_an_archive_of_an_older_schema_is_migrated_up_on_restore(tmp_path: Path) -> None:
    from relayml.store import HEAD_REVISION

    fixtures = Path(__file__).parents[1] / "fixtures" / "migrations"
    src = tmp_path / "src"
    src.mkdir()
    (src / "relay.db").write_bytes((fixtures / "0005.db").read_bytes())
    archive = tmp_path / "old.tar"
    made = _cli(_env(src, None), "db", "backup", "-o", str(archive), "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["schema_revision"] == "0005"
    with sqlite3.connect(src / "relay.db") as conn:  # the backup migrated nothing
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0005",)]

    restored = _cli(_env(tmp_path / "dst", None), "db", "restore", str(archive), "--quiet")
    assert restored.exit_code == 0, restored.output
    assert f"migrated from schema 0005 to {HEAD_REVISION}" in restored.stdout
    assert "Audit chain OK" in restored.stdout
    counts = json.loads((fixtures / "0005.json").read_text())
    with tarfile.open(archive) as tar:
        fh = tar.extractfile("manifest.json")
        assert fh is not None
        manifest = json.loads(fh.read())
    assert {k: manifest["counts"][k] for k in counts if k != "_head"} == {
        k: v for k, v in counts.items() if k != "_head"
    }
    listed = _cli(_env(tmp_path / "dst", None), "projects", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)) == counts["projects"]


def _manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        fh = tar.extractfile("manifest.json")
        assert fh is not None
        data: dict[str, Any] = json.loads(fh.read())
        return data


def test_artifacts_round_trip_through_s3_copying_only_missing_blobs(
    s3_bucket: Any, tmp_path: Path
) -> None:
    from relayml.artifacts import BlobStore
    from relayml.store import Store
    from relayml.store.backup import backup_store
    from relayml.store.restore import restore_store

    source = Store(f"sqlite:///{tmp_path / 'src.db'}")
    local = BlobStore(str(tmp_path / "artifacts"))
    blobs = {local.put_bytes(f"blob {i}".encode() * 500)[0]: f"blob {i}" for i in range(3)}
    (tmp_path / "artifacts" / "predictions").mkdir()
    (tmp_path / "artifacts" / "predictions" / "part-0.parquet").write_bytes(b"PAR1 not really")
    first = tmp_path / "first.tar"
    seen: list[tuple[int, int]] = []
    summary = backup_store(source, local, first, progress=lambda d, t: seen.append((d, t)))
    source.dispose()
    assert summary.artifacts == 4 and seen[-1] == (4, 4)

    remote = BlobStore(s3_bucket.url, s3_bucket.storage_options)
    remote.put_bytes(b"blob 0" * 500)  # already there: not copied again
    target = f"sqlite:///{tmp_path / 'dst.db'}"
    restored = restore_store(first, target, remote, replace=True)
    assert (restored.artifacts_copied, restored.artifacts_present) == (3, 1)
    for sha256, text in blobs.items():
        assert remote.get_bytes(sha256) == text.encode() * 500

    second = tmp_path / "second.tar"
    store = Store(target)
    try:
        backup_store(store, remote, second)
    finally:
        store.dispose()
    parts = {k: v for k, v in _manifest(first)["parts"].items() if k.startswith("artifacts/")}
    again = {k: v for k, v in _manifest(second)["parts"].items() if k.startswith("artifacts/")}
    assert again == parts
