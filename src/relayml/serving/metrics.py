"""Operations of the model server: Prometheus metrics and structured (JSON) access logs."""

from __future__ import annotations

import asyncio
import atexit
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["AccessLines", "AccessLog", "ServerMetrics", "flush_access_lines", "route_of"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


_PREDICTION_ROUTES = frozenset(
    {"/predict", "/v2/models/{name}/infer", "/v2/models/{name}/versions/{v}/infer"}
)


_PLAIN_ROUTES = frozenset(
    {
        "/predict",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/v2",
        "/",
        "/v2/health/live",
        "/v2/health/ready",
    }
)
_MODEL_TAILS = frozenset({"ready", "infer", "outcomes"})  # /v2/models/{name}/<tail>
_VERSION_TAILS = frozenset({"ready", "infer"})  # /v2/models/{name}/versions/{v}/<tail>


def route_of(path: str) -> str:
    """A bounded label for a request path: /v2/models/churn/infer -> /v2/models/{name}/infer.

    Only the server's own routes get a label of their own; any other path is "other", so a
    caller trying paths cannot grow the metrics (a label set each) without bound.
    """
    if path in _PLAIN_ROUTES:
        return path
    if path.startswith("/v2/models/"):
        parts = path.split("/")  # '', 'v2', 'models', name, ...
        if not parts[3]:
            return "other"
        if len(parts) == 4:
            return "/v2/models/{name}"
        if len(parts) == 5 and parts[4] in _MODEL_TAILS:
            return "/v2/models/{name}/" + parts[4]
        if parts[4] == "versions" and len(parts) in (6, 7) and parts[5]:
            if len(parts) == 6:
                return "/v2/models/{name}/versions/{v}"
            if parts[6] in _VERSION_TAILS:
                return "/v2/models/{name}/versions/{v}/" + parts[6]
    return "other"


class _LogStats(Collector):
    """Exports the prediction log's counters (rows written, dropped, buffered, write errors)."""

    def __init__(self, stats: Callable[[], dict[str, dict[str, int]]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        written = CounterMetricFamily(
            "relay_log_rows_written", "Rows written to the prediction/outcome logs", labels=["log"]
        )
        dropped = CounterMetricFamily(
            "relay_log_rows_dropped", "Rows dropped because the log buffer was full", labels=["log"]
        )
        errors = CounterMetricFamily(
            "relay_log_write_errors", "Failed writes of the logs (retried)", labels=["log"]
        )
        buffered = GaugeMetricFamily(
            "relay_log_rows_buffered", "Rows waiting to be written", labels=["log"]
        )
        for name, stats in self._stats().items():
            written.add_metric([name], stats.get("rows_written", 0))
            dropped.add_metric([name], stats.get("rows_dropped", 0))
            errors.add_metric([name], stats.get("write_errors", 0))
            buffered.add_metric([name], stats.get("rows_buffered", 0))
        yield from (written, dropped, errors, buffered)


class _SharedLogStats:
    """The log counters of this worker, written where every worker's scrape reads them.

    prometheus-client's multiprocess mode reads values from files, so a collector that asks
    the log writer at scrape time would see one worker only; instead each worker copies its
    figures into gauges (summed over the live workers) every second.
    """

    _FIGURES = (
        ("rows_written", "relay_log_rows_written", "Rows written to the prediction/outcome logs"),
        ("rows_dropped", "relay_log_rows_dropped", "Rows dropped because the log buffer was full"),
        ("write_errors", "relay_log_write_errors", "Failed writes of the logs (retried)"),
        ("rows_buffered", "relay_log_rows_buffered", "Rows waiting to be written"),
    )

    def __init__(
        self, stats: Callable[[], dict[str, dict[str, int]]], registry: CollectorRegistry
    ) -> None:
        self._stats = stats
        self._gauges = {
            key: Gauge(name, text, ["log"], registry=registry, multiprocess_mode="livesum")
            for key, name, text in self._FIGURES
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay-log-stats", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.copy()

    def copy(self) -> None:
        """Write this worker's current figures."""
        for log, stats in self._stats().items():
            for key, gauge in self._gauges.items():
                gauge.labels(log).set(stats.get(key, 0))

    def stop(self) -> None:
        """Stop copying."""
        self._stop.set()


class ServerMetrics:
    """The model server's Prometheus metrics, in a registry of its own.

    With ``multiprocess_dir`` (prometheus-client's PROMETHEUS_MULTIPROC_DIR, set by the runner
    for ``--workers N`` before any worker starts) the values live in files there, and a scrape
    of any worker reports the sum over all of them.
    """

    def __init__(
        self,
        log_stats: Callable[[], dict[str, dict[str, int]]] | None = None,
        *,
        multiprocess_dir: str | None = None,
    ) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "relay_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "relay_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.predictions = Counter(
            "relay_predictions", "Rows predicted", ["model", "variant", "mode"], registry=r
        )
        self.errors = Counter(
            "relay_prediction_errors",
            "Requests the model failed on (valid input)",
            ["model", "variant"],
            registry=r,
        )
        self.rejected = Counter(
            "relay_rejected_requests", "Requests refused as invalid input", ["model"], registry=r
        )
        self.model_latency = Histogram(
            "relay_model_latency_seconds",
            "Time from a request's arrival at the model's queue to its answer",
            ["model", "variant"],
            buckets=_LATENCY,
            registry=r,
        )
        self.batch_rows = Histogram(
            "relay_batch_rows",
            "Rows in each batch the model predicted",
            ["model", "variant"],
            buckets=_ROWS,
            registry=r,
        )
        self.feature_lookups = Counter(
            "relay_feature_lookups",
            "Online feature lookups (one per micro-batch of a model with feature inputs)",
            ["model", "variant"],
            registry=r,
        )
        self.feature_keys = Counter(
            "relay_feature_lookup_rows",
            "Rows whose entities were looked up online",
            ["model", "variant"],
            registry=r,
        )
        self.feature_latency = Histogram(
            "relay_feature_lookup_seconds",
            "Time of one online feature lookup",
            ["model", "variant"],
            buckets=_LATENCY,
            registry=r,
        )
        self.ready = Gauge(
            "relay_ready",
            "1 once the served models are loaded (by every worker)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self._shared_logs: _SharedLogStats | None = None
        if log_stats is not None and multiprocess_dir is not None:
            self._shared_logs = _SharedLogStats(log_stats, r)
        elif log_stats is not None:
            r.register(_LogStats(log_stats))
        self._children: dict[tuple[str, ...], Any] = {}
        # the per-request figures' children, found once per label set: their bound methods
        # (finding a child by its labels cost more than the counting itself)
        self._by_route: dict[tuple[str, int], tuple[Any, Any]] = {}  # (inc, observe)
        self._by_variant: dict[tuple[str, str, str], tuple[Any, Any]] = {}  # (inc, observe)
        self._batches: dict[tuple[str, str], Any] = {}  # observe

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's metrics, or every worker's summed."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        if self._shared_logs is not None:
            self._shared_logs.copy()
        gathered = CollectorRegistry()
        MultiProcessCollector(gathered, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(gathered)

    def close(self) -> None:
        """Stop the background copy of the log figures (multiprocess mode)."""
        if self._shared_logs is not None:
            self._shared_logs.stop()

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(self, route: str, status: int, seconds: float) -> None:
        """Count one HTTP request."""
        found = self._by_route.get((route, status))
        if found is None:
            found = self._by_route[(route, status)] = (
                self._child(self.requests, route, str(status)).inc,
                self._child(self.latency, route).observe,
            )
        found[0]()
        found[1](seconds)

    def predicted(self, model: str, variant: str, mode: str, rows: int, seconds: float) -> None:
        """Count rows a variant answered and how long the request waited for them."""
        found = self._by_variant.get((model, variant, mode))
        if found is None:
            found = self._by_variant[(model, variant, mode)] = (
                self._child(self.predictions, model, variant, mode).inc,
                self._child(self.model_latency, model, variant).observe,
            )
        found[0](rows)
        found[1](seconds)

    def refused(self, model: str) -> None:
        """Count one request refused as invalid input."""
        self._child(self.rejected, model).inc()

    def looked_up(self, model: str, variant: str, rows: int, seconds: float) -> None:
        """Count one online feature lookup of a batch's rows."""
        self._child(self.feature_lookups, model, variant).inc()
        self._child(self.feature_keys, model, variant).inc(rows)
        self._child(self.feature_latency, model, variant).observe(seconds)

    def batch(self, model: str, variant: str, rows: int) -> None:
        """Record the size of one batch."""
        observe = self._batches.get((model, variant))
        if observe is None:
            observe = self._batches[(model, variant)] = self._child(
                self.batch_rows, model, variant
            ).observe
        observe(rows)


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
        weakref.finalize(self, _write_lines, self._lines, self.stream)

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


@atexit.register
def flush_access_lines() -> None:
    """Write every access log's waiting lines (at exit; a forked worker, which leaves by
    os._exit, calls it itself)."""
    for lines in list(_open_lines):
        try:
            lines.flush()
        except (OSError, ValueError):  # the stream is already closed: nowhere left to write
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
        if self.on_prediction_request is not None and route in _PREDICTION_ROUTES:
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
