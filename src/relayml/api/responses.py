"""JSON responses rendered by pydantic (non-finite floats become "NaN"/"Infinity" strings)."""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any, cast

from fastapi import Response
from pydantic import BaseModel, TypeAdapter

from relayml.errors import RelayError

__all__ = ["error_body", "error_response", "ok"]


@functools.lru_cache(maxsize=64)
def _adapter(kind: Hashable) -> TypeAdapter[Any]:
    return TypeAdapter(cast(Any, kind))


def ok(value: Any, status_code: int = 200) -> Response:
    """Serialise a model, a list of models, or plain JSON data."""
    if isinstance(value, BaseModel):
        body = value.model_dump_json()
    elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
        kind: Any = list[type(value[0])]  # type: ignore[misc]
        body = _adapter(kind).dump_json(value).decode()
    else:
        plain: Any = type(value)
        body = _adapter(plain).dump_json(value).decode()
    return Response(content=body, status_code=status_code, media_type="application/json")


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one shape of every error the API returns."""
    return {"error": {"code": code, "message": message}}


def error_response(exc: RelayError) -> Response:
    """A RelayError as its HTTP status and the error body."""
    body = _adapter(dict[str, Any]).dump_json(error_body(exc.code, exc.message))
    return Response(content=body, status_code=exc.http_status, media_type="application/json")
