"""One name per external dataset, as the OpenLineage naming spec gives it (namespace, name).

A file is namespace ``file`` with its absolute path as name; an object is ``s3://bucket`` (also
``gs://``, ``wasbs://``, ``abfss://``, ``hdfs://``...) with its key; a database table
``postgres://host:port`` with ``db.schema.table``. relay's own sources (the path or URL a
dataset version was read from) and the datasets of OpenLineage events are keyed by
:func:`dataset_key` of that pair, so the two name one lineage node.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["dataset_identity", "dataset_key", "source_key"]

# Schemes that name the same store as another (fsspec and Hadoop spellings).
_SAME_SCHEME = {"s3a": "s3", "s3n": "s3", "gcs": "gs", "postgresql": "postgres"}


def _absolute(path: str) -> str:
    """An absolute, normalised POSIX path (relative ones resolved against the working folder)."""
    if os.name == "nt" or "\\" in path:  # pragma: no cover - Windows paths
        return Path(path).resolve().as_posix()
    return posixpath.normpath(posixpath.join(os.getcwd(), path))


def dataset_identity(uri: str) -> tuple[str, str]:
    """(namespace, name) of a local path or a URL, following the OpenLineage naming spec."""
    text = uri.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if len(scheme) <= 1:  # no scheme, or a Windows drive letter: a local path
        return "file", _absolute(text)
    if scheme == "file":
        return "file", _absolute(unquote(parts.path) or "/")
    scheme = _SAME_SCHEME.get(scheme, scheme)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # never a password in a name
    name = parts.path.lstrip("/")
    if parts.query:
        name += f"?{parts.query}"
    return f"{scheme}://{netloc}", name or "/"


def dataset_key(namespace: str, name: str) -> str:
    """The lineage key of an OpenLineage dataset: file:///abs/path, s3://bucket/key, ns/name."""
    if namespace == "file":
        return "file://" + (name if name.startswith("/") else _absolute(name))
    return (
        f"{namespace.rstrip('/')}/{name.lstrip('/')}"
        if "://" in namespace
        else (f"{namespace}/{name}")
    )


def source_key(uri: str) -> str:
    """The lineage key of a path or URL data was read from (the key of its dataset node)."""
    return dataset_key(*dataset_identity(uri))
