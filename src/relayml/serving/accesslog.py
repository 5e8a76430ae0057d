"""The model server's access log: one JSON line per request on stderr, written in bulk.

``AccessLog`` (ASGI middleware, and what the fast path calls) counts each finished request in
the metrics, notes prediction requests for the request log, and hands its line to
``AccessLines``, which writes lines in whole pieces.
"""

from __future__ import annotations

import asyncio
import sys
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from relayml.serving.metrics import (
    PREDICTION_ROUTES,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    ServerMetrics,
    route_of,
)

__all__ = ["AccessLines", "AccessLog", "flush_access_lines"]


class AccessLines:
    """Where access-log lines go: written in bulk, whole lines at a time, at most `delay` seconds
    after the first one waits (or once `limit` wait), and all of them at close.

    One write a request was a third of the server's system calls at one connection. Each write
    holds whole lines and at most PIPE_BUF (4,096) bytes, so the lines of several workers
    sharing a pipe never interleave. Lines added outside an event loop, or after close, are
    written at once. Lines still waiting when their event loop is gone are written by the next
    line's loop, when the object is collected, or when the interpreter exits; only a process
    killed outright (SIGKILL) loses the last `delay` seconds of lines.
    """

    def __init__(
        self, stream: IO[str] | None = None, *, delay: float = 0.1, limit: int = 256
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.limit = limit
        self._lines: list[bytes] = []  # kept (never replaced): the finalizer writes this list
        self._loop: asyncio.AbstractEventLoop | None = None  # where a flush is due
        self._closed = False
        _open_lines.add(self)
        # run when collected, and at interpreter exit if still alive (finalize's own atexit)
        weakref.finalize(self, _write_left, self._lines, self.stream)

    def add(self, line: bytes) -> None:
        """Write `line` (UTF-8, ending in a newline) soon."""
        lines = self._lines
        lines.append(line)
        if self._closed or len(lines) >= self.limit:
            self.flush()
        elif len(lines) == 1 or self._loop is None or self._loop.is_closed():
            try:  # a flush after the delay, on this loop
                self._loop = asyncio.get_running_loop()
                self._loop.call_later(self.delay, self.flush)
            except RuntimeError:  # no event loop here: nothing would write it later
                self._loop = None
                self.flush()

    def flush(self) -> None:
        """Write the waiting lines now."""
        _write_lines(self._lines, self.stream)

    def close(self) -> None:
        """Write what waits; later lines are written at once."""
        self._closed = True
        self.flush()


def _write_lines(lines: list[bytes], stream: IO[str]) -> None:
    """Write and remove the lines waiting in `lines`, in pieces of whole lines of at most
    PIPE_BUF bytes, after whatever was written to `stream` as text before."""
    n = len(lines)
    if not n:
        return
    taken = lines[:n]
    del lines[:n]
    stream.flush()
    binary = getattr(stream, "buffer", None)
    chunk: list[bytes] = []
    size = 0
    for line in taken:
        if chunk and size + len(line) > _PIPE_BUF:
            _write(stream, binary, b"".join(chunk))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    _write(stream, binary, b"".join(chunk))


def _write(stream: IO[str], binary: Any, data: bytes) -> None:
    if binary is not None:
        binary.write(data)
        binary.flush()
    else:
        stream.write(data.decode())
        stream.flush()


_PIPE_BUF = 4096  # POSIX: a write of at most this many bytes to a pipe is never split
_LONGEST_PATH = 900  # characters of a path in an access line: even in 4-byte UTF-8, a line fits
# in one PIPE_BUF write (a longer path is cut and marked "...")
_open_lines: weakref.WeakSet[AccessLines] = weakref.WeakSet()


def flush_access_lines() -> None:
    """Write every access log's waiting lines: a forked worker, which leaves by os._exit (no
    exit hooks, no finalizers), calls it itself."""
    for lines in list(_open_lines):
        _write_left(lines._lines, lines.stream)


def _write_left(lines: list[bytes], stream: IO[str]) -> None:
    """Write what waits, at the end: a stream already closed leaves nowhere to write."""
    try:
        _write_lines(lines, stream)
    except (OSError, ValueError):
        pass


class AccessLog:
    """ASGI middleware: counts every request and writes one JSON line per request."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: ServerMetrics,
        *,
        enabled: bool = True,
        lines: AccessLines | None = None,
        on_prediction_request: Callable[[str, str | None, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.enabled = enabled
        self.on_prediction_request = on_prediction_request
        self.lines = lines if lines is not None else AccessLines()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.finished(scope, status, time.perf_counter() - start)

    def finished(self, scope: Scope, status: int, seconds: float, route: str | None = None) -> None:
        """Count a finished request, note it for the error rate, write its access-log line."""
        path = scope.get("path", "")
        if route is None:
            route = route_of(path)
        self.metrics.request(route, status, seconds)
        if self.on_prediction_request is not None and route in PREDICTION_ROUTES:
            name = path.split("/")[3] if path.startswith("/v2/models/") else None
            self.on_prediction_request(route, name, status, seconds)
        if self.enabled:
            client = scope.get("client")
            if len(path) > _LONGEST_PATH:  # a line stays one piece of at most PIPE_BUF bytes
                path = path[:_LONGEST_PATH] + "..."
            line = {
                "ts": _now_iso(),
                "method": scope.get("method"),
                "path": path,
                "status": status,
                "ms": round(seconds * 1000, 3),
                "client": client[0] if client else None,
            }
            identity = scope.get("state", {}).get("relay_identity")
            if identity is not None:  # with auth on: who called (never the token)
                line["user"] = identity.name
            self.lines.add(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))


_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def _now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds; the seconds part is formatted once a
    second (the same text datetime.isoformat gives)."""
    now = time.time()
    whole = int(now)
    if _second[0] != whole:
        _second[0] = whole
        _second[1] = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    millis = int((now - whole) * 1000)
    return f"{_second[1]}.{millis:03d}+00:00"
