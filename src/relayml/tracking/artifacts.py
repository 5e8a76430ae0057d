"""Use cases on run artifacts: files and folders stored as content-addressed blobs."""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from relayml.domain.entities import Artifact
from relayml.domain.validation import check_artifact_path
from relayml.errors import Conflict, NotFound
from relayml.governance import audit
from relayml.store import Store, now_ms
from relayml.store.schema import artifacts
from relayml.tracking.state import require_run, require_running

if TYPE_CHECKING:
    from relayml.artifacts import BlobStore

__all__ = ["get_artifact", "list_artifacts", "record_artifact", "upload_artifact"]


def _to_entity(row: object) -> Artifact:
    return Artifact(
        run_id=row.run_id,  # type: ignore[attr-defined]
        path=row.path,  # type: ignore[attr-defined]
        sha256=row.sha256,  # type: ignore[attr-defined]
        size=row.size,  # type: ignore[attr-defined]
        created_at=audit.to_datetime(row.created_at),  # type: ignore[attr-defined]
    )


def record_artifact(
    store: Store, actor: str, run_id: str, path: str, sha256: str, size: int
) -> Artifact:
    """Attach a stored blob to a running run under a path; the same path twice must match."""
    path = check_artifact_path(path)
    with store.write() as conn:
        require_running(conn, run_id, f"log artifact {path!r}")
        existing = _find(conn, run_id, path)
        if existing is not None:
            if existing.sha256 != sha256:
                raise Conflict(
                    f"run {run_id} already has a different artifact at {path!r} "
                    f"(sha256 {existing.sha256[:12]}…); artifacts are immutable, "
                    "log the new one under another path."
                )
            return _to_entity(existing)
        conn.execute(
            artifacts.insert().values(
                run_id=run_id, path=path, sha256=sha256, size=size, created_at=now_ms()
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="run.log_artifact",
            entity_kind="run",
            entity_id=run_id,
            after={"path": path, "sha256": sha256, "size": size},
        )
        return _to_entity(_find(conn, run_id, path))


def upload_artifact(
    store: Store,
    blobs: BlobStore,
    actor: str,
    run_id: str,
    path: str,
    source: str | Path | IO[bytes],
) -> Artifact:
    """Store a file (or a binary stream) as a run's artifact at path."""
    path = check_artifact_path(path)
    with store.read() as conn:  # fail fast before moving bytes
        require_running(conn, run_id, f"log artifact {path!r}")
    if isinstance(source, str | Path):
        sha256, size = blobs.put_file(source)
    else:
        sha256, size = blobs.put_stream(source)
    return record_artifact(store, actor, run_id, path, sha256, size)


def _find(conn: Connection, run_id: str, path: str) -> Any:
    query = select(artifacts).where(artifacts.c.run_id == run_id, artifacts.c.path == path)
    return conn.execute(query).first()


def list_artifacts(store: Store, run_id: str, prefix: str = "") -> list[Artifact]:
    """A run's artifacts, by path, optionally under a folder prefix."""
    with store.read() as conn:
        require_run(conn, run_id)
        query = select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.path)
        if prefix:
            folder = check_artifact_path(prefix)
            query = query.where(
                (artifacts.c.path == folder)
                | artifacts.c.path.startswith(folder + "/", autoescape=True)
            )
        return [_to_entity(r) for r in conn.execute(query)]


def get_artifact(store: Store, run_id: str, path: str) -> Artifact:
    """One artifact of a run by exact path, or NotFound listing what the run has."""
    path = check_artifact_path(path)
    with store.read() as conn:
        require_run(conn, run_id)
        row = _find(conn, run_id, path)
    if row is None:
        known = [a.path for a in list_artifacts(store, run_id)][:20]
        raise NotFound(
            f"run {run_id} has no artifact {path!r} (it has: {', '.join(known) or 'none'})."
        )
    return _to_entity(row)
