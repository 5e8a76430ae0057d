"""The model server's Prometheus metrics, and the route labels they count by (bounded).

Its access log, which counts each request here, is relayml.serving.accesslog."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["PREDICTION_ROUTES", "ServerMetrics", "route_of"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


PREDICTION_ROUTES = frozenset(
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
