"""File mechanics shared by the logs' writer, reader and compaction: filesystems, listing,
atomic writes, and which files a compaction superseded."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from relayml.errors import MissingDependency

__all__ = [
    "COMPACTED_FROM",
    "DAY_MS",
    "EPOCH",
    "arrow_fs",
    "join",
    "open_fs",
    "superseded",
    "unify",
    "visible_parts",
    "write_table",
]

DAY_MS = 86_400_000
COMPACTED_FROM = b"relayml.compacted_from"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def open_fs(url: str, options: dict[str, Any] | None) -> tuple[Any, str, bool]:
    """(fsspec filesystem, root path without a trailing slash, whether it is a local disk)."""
    try:
        fs, root = fsspec.core.url_to_fs(url, **(options or {}))
    except ImportError as exc:
        scheme = url.split("://", 1)[0]
        extra = "s3fs" if scheme in ("s3", "s3a") else scheme
        raise MissingDependency.for_extra(extra, "s3", f"the log at {url}") from exc
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    return fs, root.rstrip("/"), "file" in protocols


def arrow_fs(fs: Any, local: bool) -> Any:
    """The pyarrow filesystem for an fsspec one."""
    return pafs.LocalFileSystem() if local else pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def join(*parts: str) -> str:
    """Path parts joined by single slashes (empty parts skipped)."""
    return "/".join(p.strip("/") if i else p.rstrip("/") for i, p in enumerate(parts) if p)


def visible_parts(fs: Any, root: str, prefix: str) -> list[str]:
    """Parquet files under root/prefix, without temp or hidden files."""
    base = join(root, prefix)
    try:
        paths = fs.find(base)
    except FileNotFoundError:
        return []
    return sorted(
        p
        for p in paths
        if p.endswith(".parquet")
        and not any(s.startswith((".", "_")) for s in p[len(base) :].split("/"))
    )


def superseded(paths_and_metadata: Sequence[tuple[str, Mapping[bytes, bytes] | None]]) -> set[str]:
    """Paths already merged into a compacted file that still exists."""
    out: set[str] = set()
    for path, metadata in paths_and_metadata:
        if metadata and COMPACTED_FROM in metadata:
            folder = path.rsplit("/", 1)[0]
            out.update(f"{folder}/{name}" for name in json.loads(metadata[COMPACTED_FROM]))
    return out


def unify(schemas: list[Any]) -> Any:
    """One schema for all files; a column whose types clash (ints, then names) is read as text."""
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        by_name: dict[str, list[Any]] = {}
        for schema in schemas:
            for field in schema:
                by_name.setdefault(field.name, []).append(field)
        fields = []
        for name, found in by_name.items():
            try:
                fields.append(
                    pa.unify_schemas(
                        [pa.schema([f]) for f in found], promote_options="permissive"
                    ).field(name)
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                fields.append(pa.field(name, pa.string()))
        return pa.schema(fields)


def write_table(fs: Any, local: bool, directory: str, table: Any, prefix: str = "part") -> str:
    """Write one Parquet file atomically; returns its path."""
    name = f"{prefix}-{time.time_ns() // 1_000_000}-{secrets.token_hex(4)}.parquet"
    path = f"{directory}/{name}"
    sink = pa.BufferOutputStream()
    # dictionary pages only where they pay: text columns (ids, names, labels) repeat or are
    # short; for float inputs they cost about half the write and make the file bigger
    text = [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    pq.write_table(table, sink, compression="zstd", use_dictionary=text)
    data = sink.getvalue()
    if not local:
        fs.pipe_file(path, data.to_pybytes())  # one PUT: the object appears whole or not at all
        return path
    os.makedirs(directory, exist_ok=True)
    tmp = f"{directory}/.{name}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
