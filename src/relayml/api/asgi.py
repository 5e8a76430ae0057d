"""ASGI plumbing shared by the middlewares that read a request body before the app does."""

from __future__ import annotations

from typing import Any

__all__ = ["replaying"]


def replaying(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands the app the body already read, then the connection's messages."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
