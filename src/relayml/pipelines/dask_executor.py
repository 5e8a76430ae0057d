"""The Dask executor: each step one task on a Dask distributed cluster (``dask://host:port``).

Each step is one task (``client.submit``) that receives its upstream steps' results (small
metadata) as futures; the worker reads its inputs from the blob store and writes its outputs
there itself, reaching the stores through a :class:`~relayml.pipelines.stepio.WorkerIO` passed
as plain data. Only the client records step runs. The modules that define the steps are
shipped with them (cloudpickle by value) unless they are installed packages.

A worker that dies mid-step makes Dask run the task again on another worker (up to
``distributed.scheduler.allowed-failures`` times); after that the step is FAILED with the reason.
The client never waits forever: it cannot connect -> InvalidInput after ``connect_timeout``;
no worker in the cluster for ``no_worker_timeout`` seconds -> the remaining steps fail.
"""

from __future__ import annotations

import queue
import site
import sys
import sysconfig
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from relayml.errors import InvalidInput
from relayml.pipelines.execute import OnResult, OnStart, StepResult, StepTask, execute_task
from relayml.pipelines.stepio import WorkerIO
from relayml.pipelines.values import StepIO
from relayml.store import now_ms

__all__ = ["DaskExecutor", "run_on_worker", "ship_by_value"]


def _installed_roots() -> list[Path]:
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    roots = {Path(p).resolve() for n in names if (p := sysconfig.get_paths().get(n))}
    roots.update(Path(p).resolve() for p in site.getsitepackages())
    roots.add(Path(site.getusersitepackages()).resolve())
    return sorted(roots)


def _is_installed(module: ModuleType) -> bool:
    if module.__name__.partition(".")[0] == "relayml":
        return True
    where = getattr(module, "__file__", None)
    if not where:
        return True  # built in: every worker has it
    path = Path(where).resolve()
    return any(path.is_relative_to(root) for root in _installed_roots())


def ship_by_value(tasks: Sequence[StepTask]) -> list[ModuleType]:
    """Register the user modules that define these steps to be pickled by value (as
    ``relay pipelines run`` always did); the modules newly registered."""
    import cloudpickle

    registered = set(cloudpickle.list_registry_pickle_by_value())
    shipped: list[ModuleType] = []
    for task in tasks:
        name = getattr(task.fn, "__module__", None) or "__main__"
        module = sys.modules.get(name)
        if module is None or name == "__main__" or name in registered or _is_installed(module):
            continue  # __main__ always travels by value
        cloudpickle.register_pickle_by_value(module)
        registered.add(name)
        shipped.append(module)
    return shipped


def run_on_worker(payload: bytes, worker: WorkerIO, *upstream: StepResult) -> StepResult:
    """The Dask task of one step: unpickle it, open the stores, run it; small metadata back."""
    try:
        import cloudpickle

        task: StepTask = cloudpickle.loads(payload)
        io_ = worker.open()
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
        self._shipped: list[ModuleType] = []
        shown = address or (client.scheduler.address if client is not None else "")
        self.name = f"dask://{str(shown).removeprefix('tcp://')}"

    def open(self, tasks: Sequence[StepTask]) -> None:
        """Pickle every step (a step that cannot be sent is refused) and connect.

        The modules of the user's steps travel with them (by value), so workers need not be
        able to import the pipeline's own code; installed packages and relayml go by name.
        """
        import cloudpickle

        self._shipped = ship_by_value(tasks)
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
        worker: WorkerIO,
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
                worker,
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
        """Close the client if this executor opened it; stop shipping the steps' modules."""
        import cloudpickle

        for module in self._shipped:
            cloudpickle.unregister_pickle_by_value(module)
        self._shipped = []
        if self._own and self._client is not None:
            self._client.close(timeout=10)
            self._client = None
