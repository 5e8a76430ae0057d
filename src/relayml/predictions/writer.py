"""Append-only Parquet logs of predictions and outcomes, partitioned by deployment and day.

Files: ``<partition>/<day folder>/part-<unix_ms>-<8 hex>.parquet`` under the log's root (see
relayml.predictions.layout), the day being the UTC day of each row's ``timestamp`` (int64 ms since
the epoch) or, without one, of the moment it was appended. Names carry a random suffix, so
processes never collide.

Guarantee. ``ParquetLog.append`` only queues rows in memory (at most ``max_rows``; beyond that new
rows are dropped and counted). One background thread writes everything queued every
``flush_interval`` seconds, or earlier once ``flush_rows`` rows are waiting; ``flush()`` writes
synchronously and ``close()`` flushes before returning. A file appears whole or not at all (temp
name then rename on a local disk, a single PUT on an object store). So a process killed with
SIGKILL loses at most the rows appended during the last flush interval (two for a
``low_priority`` writer on a saturated core, see below) plus the write in progress
(and rows the store refused, see ``stats["rows_buffered"]``); a clean ``close()``, also run at
interpreter exit, loses nothing.
When a write fails the rows stay queued and are retried on the next interval (logged at most
every 10 s, counted in ``stats``). ``append`` keeps the sequences it is given until they are
written: do not mutate them afterwards.

A caller on a hot path (the model server, one request at a time) can hand over rows it has not
made columns of: ``append_built(partition, build, item, rows)`` queues ``item`` as it is, and
the writer's thread calls ``build(items)`` once for all the items queued with the same ``build``
(per partition and day), so the request pays for one tuple and the columns are made in bulk.

Such a caller can also ask for ``low_priority``: on Linux the writer's thread then runs at idle
priority, taking the CPU the requests leave. A flush half an interval late (or ``flush_rows``
waiting) raises it back to normal priority until it has caught up (``stats["priority_raises"]``);
where Linux refuses the raise (no CAP_SYS_NICE), the watchdog thread writes the late rows itself
(``stats["late_flushes"]``). See relayml.predictions.priority.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from relayml.errors import InvalidInput
from relayml.predictions import priority
from relayml.predictions._files import join, open_fs, write_table
from relayml.predictions.chunks import (
    Build,
    Chunk,
    Source,
    group_chunks,
    merge_chunk,
    row_count,
    split_by_day,
    to_arrow,
)
from relayml.predictions.layout import check_partition, day_folder
from relayml.predictions.priority import IdleThread

__all__ = ["Build", "ParquetLog", "Source"]


logger = logging.getLogger("relayml.predictions")
LOG_EVERY = 10.0


class ParquetLog:
    """Rows appended from any thread, written by one background thread as Parquet files."""

    def __init__(
        self,
        url: str,
        *,
        options: dict[str, Any] | None = None,
        flush_interval: float = 1.0,
        flush_rows: int = 20_000,
        max_rows: int = 500_000,
        name: str = "relay-log",
        low_priority: bool = False,
    ) -> None:
        if flush_interval <= 0 or flush_rows < 1 or max_rows < 1:
            raise InvalidInput("flush_interval, flush_rows and max_rows must all be positive.")
        self.url = url
        self._fs, self._root, self._local = open_fs(url, options)
        self._interval = flush_interval
        self._flush_rows = flush_rows
        self._max_rows = max_rows
        self._lock = threading.Lock()  # the hot path takes it bare: no Python-level enter
        self._cond = threading.Condition(self._lock)
        self._io_lock = threading.Lock()  # one writer at a time: the thread or flush()
        self._queue: deque[Chunk] = deque()
        self._queued = 0  # rows in the queue
        self._buffered = 0  # rows in the queue plus rows converted but not yet written
        self._pending: dict[tuple[str, str], list[Any]] = {}
        self._sources: list[Source] = []
        self._partitions: dict[str, str] = {}
        self._wake = self._stopping = self._closed = False
        self._last_drop_warning = -math.inf
        self._counts = {
            "rows_written": 0,
            "rows_dropped": 0,
            "files_written": 0,
            "write_errors": 0,
            "priority_raises": 0,
            "late_flushes": 0,
        }
        # low_priority: the writer's thread at idle priority, raised when late (IdleThread)
        self._low_priority = low_priority
        self._idle = IdleThread(flush_interval)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(self._close_at_exit)

    def __enter__(self) -> ParquetLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stats(self) -> dict[str, int]:
        """Counters: rows_written, rows_dropped, files_written, rows_buffered, write_errors,
        priority_raises, late_flushes."""
        with self._cond:
            return {**self._counts, "rows_buffered": self._buffered}

    def append(
        self,
        partition: str,
        columns: Mapping[str, Sequence[Any] | np.ndarray],
        *,
        rows: int | None = None,
    ) -> bool:
        """Queue rows (columns of equal length) for `partition`; False if dropped, buffer full.

        ``rows``: the callers that built the columns themselves (the model server) give their
        length, which spares checking every column on the hot path.
        """
        if rows is None:
            rows = row_count(columns)
        return self._queue_chunk(partition, columns, rows, None)

    def append_built(self, partition: str, build: Build, item: Any, rows: int) -> bool:
        """Queue `rows` rows held by `item`, made into columns later by `build` in the writer's
        thread; False if dropped, buffer full.

        ``build(items)`` gets every item queued with the same ``build`` for one partition and
        day, in order, and returns their columns joined (as ``append`` takes them). Keep one
        ``build`` per set of columns. When it raises, the items are built one by one and those
        that still fail are dropped and counted, as unstorable appended rows are.
        """
        return self._queue_chunk(partition, item, rows, build)

    def add_source(self, source: Source) -> None:
        """A keeper of rows outside the queue (relayml.serving.logbuffer: the model server's
        columns, filled a request at a time): every flush takes its rows with ``drain()``.
        Its rows are counted toward ``max_rows`` by ``reserve`` when it takes them."""
        with self._cond:
            self._sources.append(source)

    def reserve(self, rows: int) -> bool:
        """Count `rows` a source is about to keep; False (they are dropped, and counted) when
        the log is full."""
        with self._lock:
            if self._closed:
                raise InvalidInput(f"The log at {self.url} is closed; open a new ParquetLog.")
            if self._admit(rows):
                return True
        self._warn_full()
        return False

    def queue_reserved(self, partition: str, columns: Mapping[str, Any], rows: int) -> None:
        """Queue a source's full columns (their rows reserved) without waiting for a flush."""
        key = self._key(partition)
        now_ms = time.time_ns() // 1_000_000
        with self._lock:
            self._queue.append((key, columns, rows, now_ms, None))
            self._queued += rows
            self._wake_if_due(now_ms)

    def _key(self, partition: str) -> str:
        key = self._partitions.get(partition)
        if key is None:
            key = self._partitions.setdefault(partition, check_partition(partition))
        return key

    def _queue_chunk(self, partition: str, payload: Any, rows: int, build: Build | None) -> bool:
        key = self._key(partition)
        now_ms = time.time_ns() // 1_000_000
        with self._lock:  # self._cond's lock
            if self._closed:
                raise InvalidInput(f"The log at {self.url} is closed; open a new ParquetLog.")
            if rows == 0:
                return True
            if self._admit(rows):
                self._queue.append((key, payload, rows, now_ms, build))
                self._queued += rows
                self._wake_if_due(now_ms)
                return True
        self._warn_full()
        return False

    def _admit(self, rows: int) -> bool:
        """Count rows toward the bound (held: self._lock); False, and counted dropped, if full."""
        if self._buffered + rows <= self._max_rows:
            self._buffered += rows
            return True
        self._counts["rows_dropped"] += rows
        return False

    def _wake_if_due(self, now_ms: int) -> None:
        """Wake the writer when flush_rows wait, and raise an idle one that is late (held:
        self._lock)."""
        if self._queued >= self._flush_rows and not self._wake:
            self._wake = True
            self._cond.notify()
        idle = self._idle
        if idle.tid is not None and (self._queued >= self._flush_rows or idle.is_late(now_ms)):
            self._raise_priority()

    def _warn_full(self) -> None:
        """Log the drops, at most every LOG_EVERY seconds."""
        with self._lock:
            dropped = self._counts["rows_dropped"]
            moment = time.monotonic()
            warn = moment - self._last_drop_warning >= LOG_EVERY
            if warn:
                self._last_drop_warning = moment
        if warn:
            logger.warning(
                "Log %s is full (%d rows buffered): dropping new rows, %d dropped so far.",
                self.url,
                self._max_rows,
                dropped,
            )

    def flush(self) -> None:
        """Write everything queued now; raises the last error if some rows could not be written."""
        with self._io_lock:
            errors = self._write_all()
        if errors:
            raise errors[-1]

    def close(self) -> None:
        """Flush, then stop the writer thread; later appends raise InvalidInput."""
        with self._cond:
            self._closed = self._stopping = True
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()
        atexit.unregister(self._close_at_exit)
        self.flush()

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except Exception as exc:
            logger.error("Log %s lost %d rows at exit: %s", self.url, self._buffered, exc)

    def _run(self) -> None:
        if self._low_priority and self._idle.enter():
            priority.watch(self)
        backoff = False  # after a failure, wait a full interval even when rows pile up
        logged_at = -math.inf
        deadline = time.monotonic() + self._interval
        while True:
            with self._cond:
                while not self._stopping and (backoff or not self._wake):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self._stopping:
                    priority.forget(self)
                    return
                self._wake = False
            # the next flush is due one interval after this one starts, not after it ends
            deadline = time.monotonic() + self._interval
            self._idle.restart_clock()
            try:
                with self._io_lock:
                    errors = self._write_all()
            except Exception as exc:  # a bug must not silently stop the log
                errors = [exc]
            backoff = bool(errors)
            if self._idle.raised:
                with self._cond:
                    if self._queued < self._flush_rows:  # caught up: back to idle priority
                        self._idle.lower()
            if errors and time.monotonic() - logged_at >= LOG_EVERY:
                logged_at = time.monotonic()
                logger.error(
                    "Log %s: %d rows not written yet (%s); retrying in %.1fs.",
                    self.url,
                    self.stats["rows_buffered"],
                    errors[-1],
                    self._interval,
                )

    def _write_all(self) -> list[Exception]:
        """Convert what is queued, then write one file per (partition, day). Holds _io_lock."""
        with self._cond:
            sources = list(self._sources)
        now_ms = time.time_ns() // 1_000_000
        kept = [(self._key(p), c, n, now_ms, None) for s in sources for p, c, n in s.drain()]
        with self._cond:
            self._sources = [s for s in self._sources if not s.retired]
            chunks = list(self._queue)
            self._queue.clear()
            self._queued = 0
        chunks += kept
        errors: list[Exception] = []
        # a chunk that cannot be made a table (Arrow refuses a value, a build fails) must not
        # take the others with it, nor vanish uncounted: it is dropped, counted and reported
        for group in group_chunks(chunks):
            if len(group) > 1:  # one conversion for many small chunks: far less time in Python
                try:
                    self._stage(merge_chunk(group))
                    continue
                except Exception:
                    pass  # convert them one by one, to drop only the chunks that fail
            for chunk in group:
                try:
                    self._stage(chunk)
                except Exception as exc:
                    partition, rows = chunk[0], chunk[2]
                    self._count(buffered=-rows, rows_dropped=rows, write_errors=1)
                    errors.append(
                        InvalidInput(
                            f"{rows} rows for {partition!r} were dropped: not storable ({exc})."
                        )
                    )
        for (partition, day), tables in list(self._pending.items()):
            try:
                merged = [pa.concat_tables(tables, promote_options="permissive")]
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                merged = tables  # incompatible types: one file per chunk
            directory = join(self._root, day_folder(partition, day))
            for i, table in enumerate(merged):
                try:
                    write_table(self._fs, self._local, directory, table)
                except Exception as exc:
                    self._pending[(partition, day)] = merged[i:]
                    self._count(write_errors=1)
                    errors.append(exc)
                    break
                self._count(buffered=-table.num_rows, rows_written=table.num_rows, files_written=1)
            else:
                del self._pending[(partition, day)]
        return errors

    def _stage(self, chunk: Chunk) -> None:
        """Convert one chunk to Arrow and queue its rows per (partition, day) for writing."""
        partition, columns, _rows, appended_ms, build = chunk
        if build is not None:
            columns = build([columns])
        table = pa.table({name: to_arrow(name, v) for name, v in columns.items()})
        for day, part in split_by_day(table, appended_ms):
            self._pending.setdefault((partition, day), []).append(part)

    def raise_if_late(self, now_ms: int) -> None:
        """The watchdog's look: rows wait and the flush is late (see priority.watch). The
        writer's thread is raised; where the system refuses that, the watchdog's thread writes
        the rows itself."""
        with self._cond:
            idle = self._idle
            if not idle.is_late(now_ms) or not self._buffered or idle.raised:
                return
            self._raise_priority()
            rescue = idle.unraisable
        if rescue:
            self._late_flush()

    def _raise_priority(self) -> None:
        """Back to normal priority (held: self._cond): rows piled up or a flush is late because
        the CPU was never idle; the thread goes idle again once it has caught up. Refused
        (no CAP_SYS_NICE), it is not asked again: the watchdog writes late rows instead."""
        if self._idle.raise_():
            self._counts["priority_raises"] += 1

    def _late_flush(self) -> None:
        """Write what is queued in the calling thread (the watchdog's, at normal priority),
        unless the writer's thread is writing now."""
        if not self._io_lock.acquire(blocking=False):
            return
        try:
            with self._cond:
                self._counts["late_flushes"] += 1
                self._idle.restart_clock()
            self._write_all()
        finally:
            self._io_lock.release()

    def _count(self, buffered: int = 0, **deltas: int) -> None:
        with self._cond:
            self._buffered += buffered
            for key, delta in deltas.items():
                self._counts[key] += delta
