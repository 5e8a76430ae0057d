"""What cache keys are made of: canonical JSON of values and the normalised code of steps."""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import enum
import hashlib
import inspect
import json
import marshal
import textwrap
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from relayml.errors import InvalidInput

__all__ = ["canonical_json", "code_hash"]


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
