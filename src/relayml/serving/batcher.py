"""Adaptive micro-batching: requests that arrive while the model is busy are predicted together.

No fixed timer by default: a request that finds the model idle is predicted at once (no added
latency at low load); requests arriving while a batch runs in the model's thread queue up and
form the next batch, up to ``max_rows`` rows. ``max_wait`` (seconds) can hold a batch open a
little longer to grow it, for models whose cost per batch barely depends on its size.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["Batcher"]

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Queues items from the event loop and runs them through `run` in batches, in one thread.

    `run(items)` returns one result per item; when it raises, each item is retried alone so one
    bad item fails only its own request. `size(item)` is the number of rows an item holds.
    """

    def __init__(
        self,
        run: Callable[[Sequence[T]], Sequence[R]],
        size: Callable[[T], int],
        *,
        max_rows: int = 256,
        max_wait: float = 0.0,
        name: str = "relay-model",
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._run = run
        self._size = size
        self.max_rows = max(1, max_rows)
        self.max_wait = max(0.0, max_wait)
        self._name = name
        self._on_batch = on_batch
        self._queue: collections.deque[tuple[T, asyncio.Future[R]]] = collections.deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.retired = False
        self.inline = False

    async def submit(self, item: T) -> R:
        """Predict `item` in the next batch; returns its result or raises its error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self.retired = False
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._loop(), name=self._name)
        assert self._wake is not None
        self._wake.set()
        return await future

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        taken: list[tuple[T, asyncio.Future[R]]] = []
        rows = 0
        while self._queue:
            item, future = self._queue[0]
            size = self._size(item)
            if taken and rows + size > self.max_rows:
                break
            self._queue.popleft()
            if future.cancelled():
                continue
            taken.append((item, future))
            rows += size
        return taken

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        assert self._wake is not None
        while True:
            if not self._queue:
                if self.retired:
                    self._executor.shutdown(wait=False)
                    self._executor = None
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await asyncio.sleep(0)  # requests already read by the loop join this batch
            if self.max_wait and sum(self._size(i) for i, _ in self._queue) < self.max_rows:
                await asyncio.sleep(self.max_wait)
            taken = self._take()
            if not taken:
                continue
            items = [item for item, _ in taken]
            if self._on_batch is not None:
                self._on_batch(sum(self._size(i) for i in items))
            try:
                if self.inline:
                    results = self._run_each(items)
                else:
                    results = await loop.run_in_executor(self._executor, self._run_each, items)
            except BaseException as exc:
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, future), result in zip(taken, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, _Failure):
                    future.set_exception(result.error)
                else:
                    future.set_result(result)

    def _run_each(self, items: Sequence[T]) -> Sequence[R | _Failure]:
        """Run the batch; on an error, run each item alone so only the bad ones fail."""
        try:
            return list(self._run(items))
        except Exception as exc:
            if len(items) == 1:
                return [_Failure(exc)]
        results: list[R | _Failure] = []
        for item in items:
            try:
                results.extend(self._run([item]))
            except Exception as exc:
                results.append(_Failure(exc))
        return results

    def retire(self) -> None:
        """Stop the batch thread once nothing waits (a later submit starts it again); loop only."""
        self.retired = True
        if self._wake is not None:
            self._wake.set()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error
