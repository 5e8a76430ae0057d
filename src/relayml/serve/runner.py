"""Assemble and run a model server: backend, runtime, logs, metrics, app, uvicorn processes."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from relayml.backend import prediction_logs
from relayml.config import Settings, library_variable, redact_url, set_library_variable
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.predictions import ParquetLog, PredictionLogs
from relayml.serve.app import create_model_app
from relayml.serving.accesslog import flush_access_lines
from relayml.serving.auth import TokenCheck, check_store_has_users
from relayml.serving.metrics import ServerMetrics
from relayml.serving.runtime import Runtime
from relayml.serving.service import ModelService
from relayml.serving.sources import BackendSource, ModelSource
from relayml.serving.variant import ServeOptions
from relayml.store import Store

__all__ = [
    "MULTIPROCESS_ENV",
    "ModelServer",
    "http_server",
    "open_token_check",
    "run_model_server",
]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own switch


def open_token_check(settings: Settings, backend: Backend | None = None) -> TokenCheck:
    """The token check of a server with auth on: the backend's store (``relay serve`` on the
    embedded store or a database), else the database ``RELAY_DATABASE_URL`` names (a bundle, or
    ``relay serve`` talking to a ``relay server`` over HTTP). Refused, never open, when there is
    no such store or it holds no users."""
    store: Store | None = getattr(backend, "store", None)
    if store is None:
        if not settings.database_url:
            raise InvalidInput(
                "--auth checks each token against the platform's database, and this server has "
                "none (a bundle, or RELAY_SERVER_URL without a database): set "
                "RELAY_DATABASE_URL to the database of `relay server`, where the users and "
                "tokens live, or serve without --auth."
            )
        store = Store(settings.database_url)
    try:
        check_store_has_users(store, redact_url(str(store.engine.url)))
    except BaseException:
        if backend is None or store is not getattr(backend, "store", None):
            store.dispose()
        raise
    return TokenCheck(store, cache_seconds=settings.serve_auth_cache_seconds)


class ModelServer:
    """A model server's parts, built from settings; `app` is the ASGI application.

    `ModelServer(settings, backend, project, refs)` serves from the registry (what `relay serve`
    runs); `ModelServer.from_source` serves from any ModelSource (a bundle), its logs where the
    given PredictionLogs point, or none.
    """

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        project: str,
        refs: Sequence[str],
        *,
        prediction_log: bool = True,
        access_log: bool = True,
        auth: bool | None = None,
        replay: bool = False,
    ) -> None:
        """``auth`` None follows RELAY_SERVE_AUTH; with auth the backend's store (or the one
        RELAY_DATABASE_URL names) checks the tokens; ``replay`` logs a request at the time its
        X-Relay-Time header gives (relayml.serve.replay)."""
        on = settings.serve_auth if auth is None else auth
        check = open_token_check(settings, backend) if on else None
        self._owns_auth_store = check is not None and check.store is not getattr(
            backend, "store", None
        )
        self._assemble(
            settings,
            BackendSource(backend, project),
            refs,
            prediction_logs(settings),
            prediction_log=prediction_log,
            access_log=access_log,
            auth=check,
            replay=replay,
        )

    @classmethod
    def from_source(
        cls,
        settings: Settings,
        source: ModelSource,
        refs: Sequence[str],
        logs: PredictionLogs | None,
        *,
        access_log: bool = True,
        auth: TokenCheck | None = None,
    ) -> ModelServer:
        """A server of a source's models; with logs None it keeps no prediction or outcome log;
        with ``auth`` (see open_token_check; close() disposes of its store) it requires tokens."""
        server = cls.__new__(cls)
        server._owns_auth_store = auth is not None  # opened for this server (a bundle's)
        server._assemble(
            settings,
            source,
            refs,
            logs,
            prediction_log=logs is not None,
            access_log=access_log,
            auth=auth,
        )
        return server

    def _assemble(
        self,
        settings: Settings,
        source: ModelSource,
        refs: Sequence[str],
        logs: PredictionLogs | None,
        *,
        prediction_log: bool,
        access_log: bool,
        auth: TokenCheck | None = None,
        replay: bool = False,
    ) -> None:
        self.auth = auth
        options = ServeOptions(
            max_batch_rows=settings.serve_max_batch_rows,
            max_wait=settings.serve_max_wait_ms / 1000,
            reload_interval=settings.serve_reload_interval,
            prediction_log=prediction_log,
        )
        self.logs = logs
        self.predictions: ParquetLog | None = None
        self.requests: ParquetLog | None = None
        self.outcomes: ParquetLog | None = None
        if logs is not None:
            if prediction_log:
                # idle priority: a flush waits for a gap between requests instead of delaying them
                self.predictions = logs.writer("predictions", low_priority=True)
                self.requests = logs.writer("requests", low_priority=True)
            self.outcomes = logs.writer("outcomes")
        shared = library_variable(MULTIPROCESS_ENV)  # set by run_model_server for --workers N
        self.metrics = ServerMetrics(self._log_stats, multiprocess_dir=shared)
        self.runtime = Runtime(
            source,
            refs,
            options,
            on_batch=self.metrics.batch,
            on_loaded=lambda: self.metrics.ready.set(1),
            on_lookup=self.metrics.looked_up,
        )
        self.runtime.prediction_log = self.predictions
        self.service = ModelService(
            self.runtime, self.metrics, self.predictions, self.outcomes, self.requests
        )
        origins = [o.strip() for o in settings.serve_cors_origins.split(",") if o.strip()]
        self.app = create_model_app(
            self.service,
            max_body=settings.serve_max_body_bytes,
            access_log=access_log,
            cors_origins=origins,
            auth=auth,
            replay=replay,
        )

    def close(self) -> None:
        """Stop reloading and flush the logs (what the app's shutdown does when it ran)."""
        self.runtime.stop()
        self.app.state.access_lines.close()
        self.metrics.close()
        for log in (self.predictions, self.outcomes, self.requests):
            if log is not None:
                log.close()
        if self.auth is not None and self._owns_auth_store:
            self.auth.store.dispose()

    def _log_stats(self) -> dict[str, dict[str, int]]:
        stats = {}
        if self.predictions is not None:
            stats["predictions"] = self.predictions.stats
        if self.outcomes is not None:
            stats["outcomes"] = self.outcomes.stats
        return stats


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter('{"ts": "%(asctime)s", "level": "%(levelname)s", "msg": "%(message)s"}')
    )
    logger = logging.getLogger("relayml")
    if not logger.handlers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def http_server(server: ModelServer) -> Any:
    """The uvicorn server of a model server's app (``run(sockets=[...])`` serves); the batchers
    learn from it how many requests are in flight (relayml.serving.batcher.InFlight)."""
    import uvicorn

    config = uvicorn.Config(
        server.app,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    http = uvicorn.Server(config)
    tasks = getattr(getattr(http, "server_state", None), "tasks", None)
    if tasks is not None:  # a batch's leader alone in flight skips its turn of the loop
        server.runtime.in_flight.watch(tasks)
    return http


def _serve(server: ModelServer, sock: socket.socket) -> None:
    import gc

    # Everything loaded so far (libraries, models) lives as long as the process: keep the cyclic
    # garbage collector from scanning it again and again, which shows as 100 ms pauses in p99.
    gc.collect()
    gc.freeze()
    # The log writer and the reload poller run in threads: when one holds the GIL while a request
    # waits, Python hands it over only after the switch interval (5 ms by default), which shows
    # as a 5 ms p99 at one connection. 0.5 ms bounds that wait; the threads work in short bursts.
    sys.setswitchinterval(0.0005)
    http_server(server).run(sockets=[sock])


def run_model_server(
    build: Any,
    host: str,
    port: int,
    workers: int = 1,
) -> None:
    """Serve until SIGTERM/Ctrl-C; with workers > 1, forked processes share one socket.

    `build()` makes a ModelServer; each worker calls it after the fork, so each has its own
    store connections, logs and metrics.
    """
    _configure_logging()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    if workers <= 1:
        _serve(build(), sock)
        return
    with _shared_metrics():
        _fork_workers(build, sock, workers)


@contextmanager
def _shared_metrics() -> Iterator[None]:
    """prometheus-client's multiprocess mode for the workers: a temp folder for their values,
    chosen before any worker builds its metrics, removed when the server stops."""
    from prometheus_client import values

    folder = tempfile.mkdtemp(prefix="relay-metrics-")
    before = library_variable(MULTIPROCESS_ENV)
    set_library_variable(MULTIPROCESS_ENV, folder)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # read per value
    try:
        yield
    finally:
        set_library_variable(MULTIPROCESS_ENV, before)
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        shutil.rmtree(folder, ignore_errors=True)


def _fork_workers(build: Any, sock: socket.socket, workers: int) -> None:
    from prometheus_client import multiprocess

    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                _serve(build(), sock)
            finally:
                flush_access_lines()  # os._exit runs no exit hooks
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        while True:
            try:
                os.waitpid(child, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
        multiprocess.mark_process_dead(child)  # type: ignore[no-untyped-call]
