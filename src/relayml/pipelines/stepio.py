"""Where a step reads its inputs, finds the cache and writes its outputs.

In the process that runs the pipeline, through the backend it was given (:class:`BackendIO`,
any transport). On a Dask worker, through what :class:`WorkerIO` opens there from plain data:
the metadata store and the blob store themselves (:class:`DirectIO`), or, when the client
talks to a relay server, a backend of the client's own class on the same settings.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from relayml.artifacts import BlobStore
from relayml.config import Settings, get_settings
from relayml.pipelines import runs as run_service
from relayml.pipelines.keys import canonical_json
from relayml.pipelines.values import StepIO
from relayml.store import Store

__all__ = ["BackendIO", "DirectIO", "WorkerIO"]


class _PipelineBlobs(Protocol):
    def lookup_cache(self, cache_key: str) -> dict[str, Any] | None: ...
    def upload_blob(self, source: str | Path) -> tuple[str, int]: ...
    def fetch_blob(self, sha256: str, dest: str | Path) -> Path: ...


class BackendIO:
    """Step I/O through a backend's methods (any transport)."""

    def __init__(self, backend: _PipelineBlobs) -> None:
        self.backend = backend

    def lookup(self, cache_key: str) -> dict[str, Any] | None:
        """The cache entry of a key, if its blobs exist."""
        return self.backend.lookup_cache(cache_key)

    def put(self, path: Path) -> tuple[str, int]:
        """Store a file by content."""
        return self.backend.upload_blob(path)

    def fetch(self, sha256: str, dest: Path) -> Path:
        """Fetch a verified blob to dest."""
        return self.backend.fetch_blob(sha256, dest)


class DirectIO:
    """Step I/O straight on a metadata store and a blob store (what a Dask worker opens)."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def lookup(self, cache_key: str) -> dict[str, Any] | None:
        """The cache entry of a key, if its blobs exist."""
        entry = run_service.lookup_cache(self.store, cache_key)
        if entry is None:
            return None
        if not all(self.blobs.exists(o["sha256"]) for o in entry["outputs"].values()):
            return None
        return entry

    def put(self, path: Path) -> tuple[str, int]:
        """Store a file by content."""
        return self.blobs.put_file(path)

    def fetch(self, sha256: str, dest: Path) -> Path:
        """Fetch a verified blob to dest."""
        return self.blobs.get_file(sha256, dest)


def _plain_settings(settings: Settings) -> dict[str, Any]:
    return {
        "database_url": settings.resolved_database_url,
        "artifacts_url": settings.resolved_artifacts_url,
        "artifacts_options": dict(settings.artifacts_options),
        "server_url": settings.server_url,
        "token": settings.token,
        "user": settings.user,
    }


_opened: dict[str, StepIO] = {}
_opened_lock = threading.Lock()


@dataclass(frozen=True)
class WorkerIO:
    """How a worker reaches the same stores as the client: picklable, opened once per process.

    settings: the database and artifacts URLs (and server URL, token, user) as plain data.
    remote: the client's backend class when it talks to a relay server; the worker builds one
    on the same settings (the class travels by reference, so this module imports no transport).
    """

    settings: Mapping[str, Any]
    remote: type | None = None

    @classmethod
    def like(cls, backend: Any, settings: Settings) -> WorkerIO:
        """What a worker opens to reach the stores this backend reaches."""
        remote = type(backend) if settings.server_url else None
        return cls(_plain_settings(settings), remote)

    def open(self) -> StepIO:
        """The step I/O on this worker (the same one for every step with these settings)."""
        remote = "" if self.remote is None else f"{self.remote.__module__}.{self.remote.__name__}"
        key = canonical_json({"settings": dict(self.settings), "remote": remote})
        with _opened_lock:
            found = _opened.get(key)
            if found is None:
                settings = get_settings(**self.settings)
                if self.remote is not None:
                    found = BackendIO(self.remote(settings))
                else:
                    found = DirectIO(
                        Store(settings.resolved_database_url, migrate=False),
                        BlobStore(settings.resolved_artifacts_url, settings.artifacts_options),
                    )
                _opened[key] = found
            return found
