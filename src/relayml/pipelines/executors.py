"""Where steps run: in this process (``local``) or on a Dask cluster (``dask://host:port``).

Both run the same :func:`~relayml.pipelines.execute.execute_task`, so a pipeline gives the same
outputs (the same content hashes) and the same DAG on either. The Dask one is in
:mod:`relayml.pipelines.dask_executor`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from relayml.errors import InvalidInput
from relayml.pipelines.dask_executor import DaskExecutor
from relayml.pipelines.execute import OnResult, OnStart, StepResult, StepTask, execute_task
from relayml.pipelines.stepio import WorkerIO
from relayml.pipelines.values import StepIO

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "resolve_executor"]


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
        worker: WorkerIO,
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
        worker: WorkerIO,
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
