"""Where steps run: in this process (``local``) or on a Dask cluster (``dask://host:port``).

Both run the same :func:`~relayml.pipelines.execute.execute_task`, so a pipeline gives the same
outputs (the same content hashes) and the same DAG on either. On Dask each step is one task
(``client.submit``) that receives its upstream steps' results (small metadata) as futures; the
worker reads its inputs from the blob store and writes its outputs there itself, opening the
metadata store and the blob store from settings passed as plain data (the database URL, the
artifacts URL). Only the client records step runs.

A worker that dies mid-step makes Dask run the task again on another worker (up to
``distributed.scheduler.allowed-failures`` times); after that the step is FAILED with the reason.
The client never waits forever: it cannot connect -> InvalidInput after ``connect_timeout``;
no worker in the cluster for ``no_worker_timeout`` seconds -> the remaining steps fail.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from relayml.artifacts import BlobStore
from relayml.config import Settings, get_settings
from relayml.errors import InvalidInput
from relayml.pipelines import runs as run_service
from relayml.pipelines.dag import canonical_json
from relayml.pipelines.execute import StepResult, StepTask, execute_task
from relayml.pipelines.values import StepIO
from relayml.store import Store, now_ms

__all__ = [
    "BackendIO",
    "DaskExecutor",
    "DirectIO",
    "Executor",
    "LocalExecutor",
    "resolve_executor",
    "run_on_worker",
    "worker_settings",
]

OnStart = Callable[[str], None]
OnResult = Callable[[StepResult], None]


class _PipelineBlobs(Protocol):
    def lookup_cache(self, cache_key: str) -> dict[str, Any] | None: ...
    def upload_blob(self, source: str | Path) -> tuple[str, int]: ...
    def fetch_blob(self, sha256: str, dest: str | Path) -> Path: ...


class BackendIO:
    """Step I/O through a backend's methods (any transport)."""

    def __init__(self, backend: _PipelineBlobs) -> None:
        self.backend = backend

    def lookup(self, cache_key: str) -> dict[str, Any] | None:
        """The cache entry of a key, if its blobs exist."""
        return self.backend.lookup_cache(cache_key)

    def put(self, path: Path) -> tuple[str, int]:
        """Store a file by content."""
        return self.backend.upload_blob(path)

    def fetch(self, sha256: str, dest: Path) -> Path:
        """Fetch a verified blob to dest."""
        return self.backend.fetch_blob(sha256, dest)


class DirectIO:
    """Step I/O straight on a metadata store and a blob store (what a Dask worker opens)."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def lookup(self, cache_key: str) -> dict[str, Any] | None:
        """The cache entry of a key, if its blobs exist."""
        entry = run_service.lookup_cache(self.store, cache_key)
        if entry is None:
            return None
        if not all(self.blobs.exists(o["sha256"]) for o in entry["outputs"].values()):
            return None
        return entry

    def put(self, path: Path) -> tuple[str, int]:
        """Store a file by content."""
        return self.blobs.put_file(path)

    def fetch(self, sha256: str, dest: Path) -> Path:
        """Fetch a verified blob to dest."""
        return self.blobs.get_file(sha256, dest)


def worker_settings(settings: Settings) -> dict[str, Any]:
    """The settings a worker needs to open the same stores, as plain data."""
    return {
        "database_url": settings.resolved_database_url,
        "artifacts_url": settings.resolved_artifacts_url,
        "artifacts_options": dict(settings.artifacts_options),
        "server_url": settings.server_url,
        "token": settings.token,
        "user": settings.user,
    }


_worker_io: dict[str, StepIO] = {}
_worker_lock = threading.Lock()


def _io_from(data: Mapping[str, Any]) -> StepIO:
    key = canonical_json(dict(data))
    with _worker_lock:
        found = _worker_io.get(key)
        if found is None:
            settings = get_settings(**data)
            if settings.server_url:
                from relayml.backend import open_backend

                found = BackendIO(open_backend(settings))  # type: ignore[arg-type]
            else:
                found = DirectIO(
                    Store(settings.resolved_database_url, migrate=False),
                    BlobStore(settings.resolved_artifacts_url, settings.artifacts_options),
                )
            _worker_io[key] = found
        return found


def run_on_worker(payload: bytes, settings: dict[str, Any], *upstream: StepResult) -> StepResult:
    """The Dask task of one step: unpickle it, open the stores, run it; small metadata back."""
    try:
        import cloudpickle

        task: StepTask = cloudpickle.loads(payload)
        io_ = _io_from(settings)
    except Exception:
        at = now_ms()
        return StepResult(
            node="?",
            status="FAILED",
            started_at=at,
            ended_at=at,
            error="the Dask worker could not load the step or open the stores:\n"
            + traceback.format_exc(),
        )
    return execute_task(task, {r.node: r for r in upstream}, io_)


class Executor(Protocol):
    """Runs the steps of a DAG in a topological order, reporting each result as it ends."""

    name: str

    def open(self, tasks: Sequence[StepTask]) -> None:
        """Get ready (connect, check the steps can be sent) before the run is recorded."""
        ...

    def run(
        self,
        tasks: Sequence[StepTask],
        *,
        io_: StepIO,
        settings: dict[str, Any],
        run_id: str,
        on_start: OnStart,
        on_result: OnResult,
    ) -> None:
        """Run every task; each ends in exactly one on_result call."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class LocalExecutor:
    """Steps one after the other in this process; values stay in memory while still needed."""

    name = "local"

    def open(self, tasks: Sequence[StepTask]) -> None:
        """Nothing to prepare."""

    def run(
        self,
        tasks: Sequence[StepTask],
        *,
        io_: StepIO,
        settings: dict[str, Any],
        run_id: str,
        on_start: OnStart,
        on_result: OnResult,
    ) -> None:
        """Run every task in order."""
        readers = Counter(up for task in tasks for up in set(task.upstream))
        memo: dict[tuple[str, str], Any] = {}
        results: dict[str, StepResult] = {}
        for task in tasks:
            on_start(task.node)
            result = execute_task(task, results, io_, memo)
            results[task.node] = result
            on_result(result)
            for node in set(task.upstream):
                readers[node] -= 1
            for node in {*task.upstream, task.node}:
                if readers[node] == 0:  # no step left reads it: free the memory
                    for slot in [s for s in memo if s[0] == node]:
                        del memo[slot]

    def close(self) -> None:
        """Nothing to release."""


class _NoWorkers(Exception):
    pass


class DaskExecutor:
    """Each step a task on a Dask distributed cluster."""

    def __init__(
        self,
        address: str | None = None,
        *,
        client: Any = None,
        connect_timeout: float = 10.0,
        no_worker_timeout: float = 60.0,
    ) -> None:
        if address is None and client is None:
            raise InvalidInput("the dask executor needs a scheduler address or a Client.")
        self.address = address
        self._client = client
        self._own = client is None
        self.connect_timeout = connect_timeout
        self.no_worker_timeout = no_worker_timeout
        self._payloads: dict[str, bytes] = {}
        shown = address or (client.scheduler.address if client is not None else "")
        self.name = f"dask://{str(shown).removeprefix('tcp://')}"

    def open(self, tasks: Sequence[StepTask]) -> None:
        """Pickle every step (a step that cannot be sent is refused) and connect."""
        import cloudpickle

        for task in tasks:
            try:
                self._payloads[task.node] = cloudpickle.dumps(task)
            except Exception as exc:
                raise InvalidInput(
                    f"step {task.node!r} cannot be sent to Dask workers: its function or "
                    f"arguments do not pickle ({type(exc).__name__}: {exc})."
                ) from exc
        if self._client is None:
            from distributed import Client

            try:
                self._client = Client(  # type: ignore[no-untyped-call]
                    self.address, timeout=self.connect_timeout, set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                raise InvalidInput(
                    f"cannot reach the Dask scheduler at {self.address} within "
                    f"{self.connect_timeout:g} s ({type(exc).__name__}: {exc}). Start one "
                    "(`dask scheduler`, `dask worker ADDRESS`) or fix --executor / RELAY_EXECUTOR."
                ) from exc

    def run(
        self,
        tasks: Sequence[StepTask],
        *,
        io_: StepIO,
        settings: dict[str, Any],
        run_id: str,
        on_start: OnStart,
        on_result: OnResult,
    ) -> None:
        """Submit every step with its dependencies as futures, then record them as they end."""
        client = self._client
        assert client is not None, "open() first"
        ended: queue.Queue[Any] = queue.Queue()  # futures, as they finish, err or are cancelled
        futures: dict[str, Any] = {}
        remaining: dict[str, Any] = {}  # future key -> future
        for task in tasks:
            future = client.submit(
                run_on_worker,
                self._payloads[task.node],
                settings,
                *[futures[up] for up in task.upstream],
                key=f"relay-{run_id[:12]}-{task.node}",
                pure=False,
            )
            futures[task.node] = future
            remaining[future.key] = future
            future.add_done_callback(ended.put)
            on_start(task.node)
        node_of = {future.key: node for node, future in futures.items()}
        results: dict[str, StepResult] = {}
        erred: dict[str, BaseException] = {}
        idle_since: float | None = None
        checked = 0.0
        while remaining:
            try:
                future = ended.get(timeout=1.0)
            except queue.Empty:
                future = None
            if future is not None:
                idle_since = None
                if remaining.pop(future.key, None) is None:
                    continue
                node = node_of[future.key]
                if future.status == "finished":
                    result: StepResult = future.result()
                    result.node = node
                    results[node] = result
                    on_result(result)
                else:
                    erred[node] = future.exception() if future.status == "error" else _NoWorkers()
                continue
            now = time.monotonic()
            if now - checked < 2.0:
                continue
            checked = now
            try:
                workers = len(client.nthreads()) if client.status == "running" else 0
            except Exception:  # the scheduler is gone
                workers = 0
            if workers:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since > self.no_worker_timeout:
                for key, lost in remaining.items():
                    erred[node_of[key]] = _NoWorkers()
                    lost.cancel()
                remaining.clear()
        for task in tasks:  # erred steps in topological order: their upstream is known by now
            if task.node not in erred:
                continue
            at = now_ms()
            blocked = [u for u in task.upstream if results[u].status in ("FAILED", "SKIPPED")]
            if blocked:
                failed = StepResult(
                    node=task.node,
                    status="SKIPPED",
                    started_at=at,
                    ended_at=at,
                    logs=f"skipped: upstream step {blocked[0]} "
                    f"{results[blocked[0]].status.lower()}",
                )
            else:
                cause = erred[task.node]
                reason = (
                    f"no Dask worker was available for {self.no_worker_timeout:g} s"
                    if isinstance(cause, _NoWorkers)
                    else f"{type(cause).__name__}: {cause}"
                )
                failed = StepResult(
                    node=task.node,
                    status="FAILED",
                    attempts=1,
                    started_at=at,
                    ended_at=at,
                    error=f"step {task.node!r} did not complete on the Dask cluster: {reason}. "
                    "If a worker died (memory, a crash), check the workers' logs.",
                )
            results[task.node] = failed
            on_result(failed)

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._own and self._client is not None:
            self._client.close(timeout=10)
            self._client = None


def resolve_executor(spec: str | Executor | None, default: str = "local") -> Executor:
    """'local', 'dask://host:port', or an executor object; None -> the `executor` setting."""
    if spec is None:
        spec = default
    if not isinstance(spec, str):
        return spec
    text = spec.strip()
    if text == "local":
        return LocalExecutor()
    if text.startswith("dask://") and len(text) > len("dask://"):
        return DaskExecutor("tcp://" + text.removeprefix("dask://"))
    raise InvalidInput(
        f"executor {spec!r} is not known; use 'local' or 'dask://host:port' "
        "(the address of a Dask scheduler)."
    )
