"""Blobs addressed by their sha256, on a local folder, S3 or any fsspec filesystem.

Layout: ``<root>/sha256/ab/cd/<hex>``. A blob becomes visible only once complete: on a local
filesystem it is written under ``<root>/tmp/`` and renamed into place (atomic on POSIX); on an
object store a PUT (or a completed multipart upload) is atomic by itself. Identical content is
stored once. Every read checks the hash. A failure of the storage itself (credentials, endpoint,
bucket) leaves as one StorageUnavailable sentence naming the URL (see ``failures``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from relayml.artifacts.failures import storage_boundary
from relayml.errors import CorruptArtifact, InvalidInput, MissingDependency, NotFound

__all__ = ["BlobStore", "sha256_of_file"]

CHUNK = 1024 * 1024


def sha256_of_file(path: str | Path) -> tuple[str, int]:
    """Hash a local file; returns (hex digest, size in bytes)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_digest(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInput(f"{sha256!r} is not a sha256 hex digest (64 lowercase hex characters).")
    return sha256


class BlobStore:
    """Store and fetch immutable blobs by content hash."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        import fsspec  # here: a module that names BlobStore only for its types loads no fsspec

        try:
            fs, root = fsspec.core.url_to_fs(url, **(options or {}))
        except ImportError as exc:
            scheme = url.split("://", 1)[0]
            raise MissingDependency.for_extra(
                "s3fs" if scheme in ("s3", "s3a") else scheme, "s3", f"artifacts at {url}"
            ) from exc
        self.url = url
        self.options = dict(options or {})
        self.fs = fs
        self.root = root.rstrip("/")
        self.local = "file" in (
            fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
        )
        if self.local:
            with self._boundary("creating its folder"):
                os.makedirs(self._tmp_dir(), exist_ok=True)

    def _boundary(self, doing: str) -> contextlib.AbstractContextManager[None]:
        """Third-party storage errors inside become one StorageUnavailable naming this store."""
        return storage_boundary(self.url, self.options, doing)

    def _tmp_dir(self) -> str:
        return f"{self.root}/tmp"

    def path_of(self, sha256: str) -> str:
        """Where the blob with this hash lives."""
        _check_digest(sha256)
        return f"{self.root}/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        """True when the blob is stored."""
        path = self.path_of(sha256)
        with self._boundary(f"looking for blob {sha256[:12]}"):
            return bool(self.fs.exists(path))

    def size(self, sha256: str) -> int | None:
        """The blob's size in bytes, or None when it is not stored."""
        path = self.path_of(sha256)
        with self._boundary(f"sizing blob {sha256[:12]}"):
            try:
                return int(self.fs.size(path))
            except FileNotFoundError:
                return None

    def put_file(self, local_path: str | Path) -> tuple[str, int]:
        """Store a local file; returns (sha256, size). Stores nothing if the content exists."""
        sha256, size = sha256_of_file(local_path)
        target = self.path_of(sha256)
        if self.exists(sha256):
            return sha256, size
        with self._boundary(f"writing blob {sha256[:12]}"):
            self._put(local_path, target)
        return sha256, size

    def _put(self, local_path: str | Path, target: str) -> None:
        if self.local:
            tmp = f"{self._tmp_dir()}/{uuid.uuid4().hex}"
            try:
                shutil.copyfile(local_path, tmp)
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            self.fs.put_file(str(local_path), target)

    def put_stream(self, stream: IO[bytes]) -> tuple[str, int]:
        """Store what a binary stream yields; returns (sha256, size)."""
        if self.local:
            return self._put_local_stream(stream)
        with tempfile.NamedTemporaryFile(prefix="relay-upload-", delete=False) as tmp:
            try:
                shutil.copyfileobj(stream, tmp, CHUNK)
                tmp.close()
                return self.put_file(tmp.name)
            finally:
                os.unlink(tmp.name)

    def _put_local_stream(self, stream: IO[bytes]) -> tuple[str, int]:
        """Into a local store, written once: hashed on the way to its temporary name in the
        store's folder, synced, then renamed into place (or dropped if the content exists)."""
        tmp = f"{self._tmp_dir()}/{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        try:
            with self._boundary("writing an upload"), open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                sha256 = digest.hexdigest()
                target = self.path_of(sha256)
                if os.path.exists(target):
                    return sha256, size
                out.flush()
                os.fsync(out.fileno())
            with self._boundary(f"writing blob {sha256[:12]}"):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
            return sha256, size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; returns (sha256, size)."""
        sha256 = hashlib.sha256(data).hexdigest()
        if self.exists(sha256):
            return sha256, len(data)
        with tempfile.NamedTemporaryFile(prefix="relay-bytes-", delete=False) as tmp:
            tmp.write(data)
        try:
            return self.put_file(tmp.name)
        finally:
            os.unlink(tmp.name)

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        """Yield the blob's bytes; raises CorruptArtifact at the end if they do not match."""
        path = self.path_of(sha256)
        digest = hashlib.sha256()
        doing = f"reading blob {sha256[:12]}"
        try:
            with self._boundary(doing):
                fh = self._open_inside(path, sha256) if self.local else self.fs.open(path, "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {sha256} is not in the artifact store at {self.url}.") from exc
        with fh:
            while True:
                with self._boundary(doing):
                    chunk = fh.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                yield chunk
        if digest.hexdigest() != sha256:
            raise CorruptArtifact(
                f"blob {path} is corrupt: its content hashes to {digest.hexdigest()}, "
                f"not {sha256}. Restore it from a backup or log the artifact again."
            )

    def _open_inside(self, path: str, sha256: str) -> IO[bytes]:
        """Open a local blob, refusing one that resolves outside the store's folder (a symbolic
        link planted there would otherwise serve any file the server can read, since the hash
        is checked only once the bytes have gone out)."""
        real = os.path.realpath(path)
        root = os.path.realpath(self.root)
        if os.path.commonpath([real, root]) != root:
            raise CorruptArtifact(
                f"blob {sha256} in the artifact store at {self.url} is a link to a file outside "
                "the store; relayml does not follow it. Remove the link and log the artifact again."
            )
        return open(real, "rb")

    def get_bytes(self, sha256: str) -> bytes:
        """The blob's bytes, verified."""
        return b"".join(self.iter_chunks(sha256))

    def get_file(self, sha256: str, dest: str | Path) -> Path:
        """Write the verified blob to dest (atomically) and return dest."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            with open(tmp, "wb") as out:
                for chunk in self.iter_chunks(sha256):
                    out.write(chunk)
            os.replace(tmp, dest)
        finally:
            if tmp.exists():
                tmp.unlink()
        return dest
