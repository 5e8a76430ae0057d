"""Adaptive micro-batching: requests that arrive while the model is busy are predicted together.

No fixed timer by default: a request that finds the model idle is predicted at once (no added
latency at low load). Predicting on the event loop (``inline``, the default), the first request
of a batch leads it in its own task: after one turn of the loop, which lets the requests already
read join, it predicts them all and answers each. When the HTTP server holds no other request
(``InFlight``: always so at one connection) nothing could join, and the turn is skipped.
Predicting in the model's thread, requests arriving while a batch runs queue up and form the
next batch, up to ``max_rows`` rows. ``max_wait`` (seconds) can hold a batch open a
little longer to grow it, for models whose cost per batch barely depends on its size.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["Batcher", "InFlight"]

T = TypeVar("T")
R = TypeVar("R")


class InFlight:
    """How many requests the HTTP server of this process holds, read from its own set of request
    tasks (uvicorn's ``server_state.tasks``, the set its --limit-concurrency counts).

    A request's task is in that set from the moment its headers are read, so a batch's leader
    that is the only one in the set knows no other request can join during a turn of the loop.
    Until ``watch`` is called (a server run some other way, a test's ASGI client) it is never
    alone, and the turn is always taken.
    """

    def __init__(self) -> None:
        self._tasks: Sized | None = None

    def watch(self, tasks: Sized) -> None:
        """Count the requests in `tasks` from now on."""
        self._tasks = tasks

    def alone(self) -> bool:
        """Whether at most one request (the caller's) is in flight."""
        tasks = self._tasks
        return tasks is not None and len(tasks) <= 1


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
        in_flight: InFlight | None = None,
    ) -> None:
        self._run = run
        self._in_flight = in_flight if in_flight is not None else InFlight()
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
        self._leading = False  # a request is leading the next batch (inline mode)

    async def submit(self, item: T) -> R:
        """Predict `item` in the next batch; returns its result or raises its error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if self.inline and (self._task is None or self._task.done()):
            if self._leading:
                return await future  # the request leading the next batch takes this one too
            return await self._lead(future)
        if self._task is None or self._task.done():
            self.retired = False
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._loop(), name=self._name)
        assert self._wake is not None
        self._wake.set()
        return await future

    async def _lead(self, future: asyncio.Future[R]) -> R:
        """Predict the batch this request opens, on the loop, in the request's own task.

        One turn of the loop first lets the requests it has already read join the batch; with
        no other request in flight (one connection) there are none, and the turn is skipped.
        What does not fit in ``max_rows`` is left to the batch task.
        """
        self._leading = True
        try:
            if not self._in_flight.alone():
                await asyncio.sleep(0)
            if self.max_wait and sum(self._size(i) for i, _ in self._queue) < self.max_rows:
                await asyncio.sleep(self.max_wait)
            while not future.done():
                taken = self._take()
                if not taken:
                    break
                try:
                    results = self._batch(taken)
                except BaseException as exc:  # not an Exception: every waiter gets it
                    self._fail(taken, exc)
                    continue
                self._settle(taken, results)
        finally:
            self._leading = False
            if self._queue:
                self._start()
        return await future

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self.retired = False
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self._name)
        assert self._wake is not None
        self._wake.set()

    def _batch(self, taken: list[tuple[T, asyncio.Future[R]]]) -> Sequence[R | _Failure]:
        items = [item for item, _ in taken]
        if self._on_batch is not None:
            self._on_batch(sum(self._size(i) for i in items))
        return self._run_each(items)

    def _settle(
        self, taken: list[tuple[T, asyncio.Future[R]]], results: Sequence[R | _Failure]
    ) -> None:
        for (_, future), result in zip(taken, results, strict=True):
            if future.done():
                continue
            if isinstance(result, _Failure):
                future.set_exception(result.error)
            else:
                future.set_result(result)

    def _fail(self, taken: list[tuple[T, asyncio.Future[R]]], exc: BaseException) -> None:
        for _, future in taken:
            if not future.done():
                future.set_exception(exc)

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
        assert self._wake is not None
        while True:
            if not self._queue:
                if self.inline and not self.retired:
                    return  # the next request leads its own batch again
                if self.retired:
                    if self._executor is not None:
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
            try:
                if self.inline:
                    results = self._batch(taken)
                else:
                    if self._executor is None:
                        self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._name)
                    items = [item for item, _ in taken]
                    if self._on_batch is not None:
                        self._on_batch(sum(self._size(i) for i in items))
                    results = await loop.run_in_executor(self._executor, self._run_each, items)
            except BaseException as exc:
                self._fail(taken, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self._settle(taken, results)

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
