"""What cache keys are made of: canonical JSON of values, the normalised code of steps, and the
content of the files that arguments name.

An argument that names a file is keyed by what the file holds, not by its name alone, so a step
reading ``customers.csv`` runs again once the file was edited:

- a local path (``str`` or ``Path``) of an existing file, or a ``file://`` URL: the sha256 of its
  bytes. Within one process the hash is remembered by (path, size, mtime, inode) and reused
  while those are unchanged, unless the file changed in the last 2 seconds (too recent for the
  mtime to be trusted);
- an fsspec URL of another store (``s3://``, ``gs://``, ``abfs://``, ...): the store's own
  fingerprint of the object (``ukey``: its ETag, or size and modification time), without
  downloading it;
- anything else (folders, ``http(s)://`` URLs, names of nothing) by its text, as before.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import enum
import hashlib
import inspect
import json
import marshal
import os
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import PurePath
from typing import Any
from urllib.parse import unquote, urlsplit

from relayml.errors import InvalidInput

__all__ = ["canonical_json", "code_hash", "file_key", "with_file_contents"]

_RECENT_NS = 2_000_000_000  # a file modified this recently is hashed again on every use
_MAX_PATH = 4096
_WEB = frozenset({"http", "https"})


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value, the same text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    raise TypeError(type(value).__qualname__)


def _source_digest(fn: Callable[..., Any]) -> str:
    """The function's source without decorators, docstring, comments or layout, hashed."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        code = getattr(fn, "__code__", None)
        if code is None:
            raise InvalidInput(
                f"cannot read the code of step {fn!r}; a step must be a Python function."
            ) from None
        return hashlib.sha256(marshal.dumps(code)).hexdigest()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.decorator_list = []
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
            break
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def code_hash(fn: Callable[..., Any], version: str | None = None) -> str:
    """sha256 of a step's normalised source (and its explicit version, if any)."""
    digest = _source_digest(fn)
    if version is None:
        return digest
    return hashlib.sha256(f"{digest}:{version}".encode()).hexdigest()


_hashes: dict[tuple[str, int, int, int], str] = {}
_hashes_lock = threading.Lock()


def _sha256_of(path: str) -> str | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not os.path.isfile(path):
        return None
    memo = (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _hashes_lock:
        found = _hashes.get(memo)
    if found is not None:
        return found
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
    except OSError:
        return None
    value = digest.hexdigest()
    if time.time_ns() - st.st_mtime_ns > _RECENT_NS:
        with _hashes_lock:
            _hashes[memo] = value
    return value


def _remote_fingerprint(url: str) -> str | None:
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(url)
        if not fs.isfile(path):
            return None
        return str(fs.ukey(path))
    except Exception:  # no such store, package or object: the text alone keys it
        return None


def file_key(value: Any) -> dict[str, str] | None:
    """{'$file': name, 'sha256' | 'ukey': ...} when the value names a file, else None."""
    if isinstance(value, PurePath):
        text = str(value)
    elif isinstance(value, str) and 0 < len(value) <= _MAX_PATH and "\n" not in value:
        text = value
    else:
        return None
    scheme = urlsplit(text).scheme if "://" in text else ""
    if scheme == "file":
        local = unquote(urlsplit(text).path)
        digest = _sha256_of(local)
        return None if digest is None else {"$file": text, "sha256": digest}
    if scheme:
        if scheme.lower() in _WEB:
            return None
        ukey = _remote_fingerprint(text)
        return None if ukey is None else {"$file": text, "ukey": ukey}
    digest = _sha256_of(text)
    return None if digest is None else {"$file": text, "sha256": digest}


def with_file_contents(value: Any) -> Any:
    """The value with every argument that names a file (at any depth) replaced by its key."""
    key = file_key(value)
    if key is not None:
        return key
    if isinstance(value, list | tuple):
        return [with_file_contents(v) for v in value]
    if isinstance(value, dict):
        return {k: with_file_contents(v) for k, v in value.items()}
    return value
