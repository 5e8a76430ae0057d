"""Running one step wherever it runs (this process or a Dask worker): cache lookup, retries
with exponential backoff, captured logs, CPU time and peak memory, outputs stored as blobs.

The result is small, picklable metadata (:class:`StepResult`); values travel through the blob
store. A step that fails keeps its traceback and caches nothing; a step whose upstream failed or
was skipped is SKIPPED without running.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from relayml.errors import InvalidInput
from relayml.pipelines.dag import InputRef, replace_refs
from relayml.pipelines.keys import canonical_json, with_file_contents
from relayml.pipelines.values import StepIO, load_value, store_value, type_name
from relayml.store import now_ms

__all__ = ["OnResult", "OnStart", "StepResult", "StepTask", "cache_key", "execute_task"]

LOG_LIMIT = 64 * 1024
_SAMPLE_EVERY = 0.05  # seconds between memory samples while a step runs


@dataclass(frozen=True)
class StepTask:
    """What a worker needs to run one node of the DAG (picklable)."""

    node: str
    fn: Callable[..., Any]
    code_hash: str
    arguments: dict[str, Any]  # bound arguments, InputRef where a step output goes
    outputs: tuple[str, ...]
    retries: int
    backoff: float
    cache: bool  # @relay.step(cache=...): outputs are cached and reused
    upstream: tuple[str, ...]
    reuse: bool = True  # False (--force): run even when the cache has the outputs


@dataclass
class StepResult:
    """How a step run ended: the row a step run is recorded from, and its inputs."""

    node: str
    status: str  # FINISHED | CACHED | FAILED | SKIPPED
    cache_key: str = ""
    attempts: int = 0
    started_at: int = 0
    ended_at: int = 0
    duration: float | None = None
    cpu_time: float | None = None
    peak_memory_mb: float | None = None
    logs: str = ""
    error: str | None = None
    invalid_input: bool = False  # the error is an InvalidInput (raise it as such)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: list[dict[str, str]] = field(default_factory=list)
    cached_from: int | None = None

    def record(self) -> dict[str, Any]:
        """The fields a step run is stored with."""
        return {
            "step": self.node,
            "status": self.status,
            "cache_key": self.cache_key,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration": self.duration,
            "cpu_time": self.cpu_time,
            "peak_memory_mb": self.peak_memory_mb,
            "logs": self.logs,
            "error": self.error,
            "outputs": self.outputs,
            "inputs": self.inputs,
        }


OnStart = Callable[[str], None]  # an executor started the step of this node
OnResult = Callable[[StepResult], None]  # a step ended (exactly once per step)


def cache_key(task: StepTask, upstream: Mapping[str, StepResult]) -> str:
    """sha256 of (code hash, arguments with each step input and each named file replaced by
    its content hash, outputs)."""
    arguments = replace_refs(
        with_file_contents(task.arguments),
        lambda ref: {"$input": upstream[ref.node].outputs[ref.output]["sha256"]},
    )
    payload = {"code": task.code_hash, "arguments": arguments, "outputs": list(task.outputs)}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


# ------------------------------------------------------------------ logs and resources


class _LogBuffer:
    """Text kept up to LOG_LIMIT: the start and the end, with a marker where text was dropped."""

    def __init__(self) -> None:
        self.head: list[str] = []
        self.head_size = 0
        self.tail: list[str] = []
        self.tail_size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = LOG_LIMIT // 8 - self.head_size
        if room > 0:
            self.head.append(text[:room])
            self.head_size += len(text[:room])
            text = text[room:]
            if not text:
                return
        self.tail.append(text)
        self.tail_size += len(text)
        if self.tail_size > LOG_LIMIT * 2:
            joined = "".join(self.tail)
            keep = LOG_LIMIT - LOG_LIMIT // 8
            self.dropped += len(joined) - keep
            self.tail, self.tail_size = [joined[-keep:]], keep

    def text(self) -> str:
        """At most LOG_LIMIT characters: the start, a marker if text was dropped, the end."""
        head = "".join(self.head)
        tail = "".join(self.tail)
        if self.dropped == 0 and len(head) + len(tail) <= LOG_LIMIT:
            return head + tail
        keep = LOG_LIMIT - len(head) - 64  # room for the marker
        dropped = self.dropped + max(0, len(tail) - keep)
        return f"{head}\n[... {dropped} characters dropped ...]\n{tail[-keep:]}"


_local = threading.local()
_install_lock = threading.Lock()
_installed = 0
_saved: tuple[TextIO, TextIO] | None = None


class _Router:
    """Standard output/error: also copied into the log buffer of the thread running a step.

    A transparent proxy: what it does not define comes from the stream it wraps (so fileno(),
    encoding, and Rich's ``rich_proxied_file`` behave as without it)."""

    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, text: str) -> int:
        buffer: _LogBuffer | None = getattr(_local, "buffer", None)
        if buffer is not None:
            buffer.add(text)
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class _LogHandler(logging.Handler):
    """A root handler that copies records into the log buffer of the thread running a step."""

    def emit(self, record: logging.LogRecord) -> None:
        buffer: _LogBuffer | None = getattr(_local, "buffer", None)
        if buffer is not None:
            try:
                buffer.add(self.format(record) + "\n")
            except Exception:
                self.handleError(record)


_handler = _LogHandler()
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


@contextmanager
def _capture(buffer: _LogBuffer) -> Iterator[None]:
    """Copy this thread's prints and log records (as the logging levels let them through)."""
    global _installed, _saved
    with _install_lock:
        if _installed == 0:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout = cast(TextIO, _Router(sys.stdout))
            sys.stderr = cast(TextIO, _Router(sys.stderr))
            logging.getLogger().addHandler(_handler)
        _installed += 1
    _local.buffer = buffer
    try:
        yield
    finally:
        _local.buffer = None
        with _install_lock:
            _installed -= 1
            if _installed == 0 and _saved is not None:
                logging.getLogger().removeHandler(_handler)
                if isinstance(sys.stdout, _Router):
                    sys.stdout = _saved[0]
                if isinstance(sys.stderr, _Router):
                    sys.stderr = _saved[1]
                _saved = None


def _max_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class _Meter:
    """CPU seconds of this process and its peak resident memory while a step runs."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self._stop = threading.Event()
        self.peak = self._rss()
        self._max_rss_before = _max_rss_mb()
        self._cpu = time.process_time()
        self._thread = threading.Thread(target=self._sample, name="relay-step-meter", daemon=True)
        self._thread.start()

    def _rss(self) -> float:
        return float(self._process.memory_info().rss) / (1024 * 1024)

    def _sample(self) -> None:
        while not self._stop.wait(_SAMPLE_EVERY):
            self.peak = max(self.peak, self._rss())

    def stop(self) -> tuple[float, float]:
        """(CPU seconds, peak MiB) since the meter started."""
        cpu = time.process_time() - self._cpu
        self._stop.set()
        self._thread.join()
        peak = max(self.peak, self._rss())
        after = _max_rss_mb()
        if after is not None and self._max_rss_before is not None and after > self._max_rss_before:
            peak = max(peak, after)  # the process peak grew during the step: that is exact
        return cpu, peak


# ------------------------------------------------------------------ running


def _inputs(task: StepTask, upstream: Mapping[str, StepResult]) -> list[dict[str, str]]:
    seen: dict[InputRef, None] = {}

    def note(ref: InputRef) -> InputRef:
        seen[ref] = None
        return ref

    replace_refs(task.arguments, note)
    return [
        {"node": r.node, "output": r.output, "sha256": upstream[r.node].outputs[r.output]["sha256"]}
        for r in seen
    ]


def _split(task: StepTask, value: Any) -> dict[str, Any]:
    if len(task.outputs) == 1:
        return {task.outputs[0]: value}
    if isinstance(value, Mapping) and set(value) == set(task.outputs):
        return {name: value[name] for name in task.outputs}
    if isinstance(value, tuple | list) and len(value) == len(task.outputs):
        return dict(zip(task.outputs, value, strict=True))
    raise InvalidInput(
        f"step {task.node!r} declares outputs ({', '.join(task.outputs)}) but returned a "
        f"{type_name(value)}; return a tuple of {len(task.outputs)} values or a dict with "
        "those keys."
    )


def execute_task(
    task: StepTask,
    upstream: Mapping[str, StepResult],
    io_: StepIO,
    memo: dict[tuple[str, str], Any] | None = None,
) -> StepResult:
    """Run one step: SKIPPED, CACHED, FINISHED or FAILED (never raises for the step's errors).

    memo holds values of this run already in memory, by (node, output); loaded ones are added.
    """
    started = now_ms()
    clock = time.perf_counter()
    blocked = [n for n in task.upstream if upstream[n].status in ("FAILED", "SKIPPED")]
    if blocked:
        return StepResult(
            node=task.node,
            status="SKIPPED",
            started_at=started,
            ended_at=started,
            logs=f"skipped: upstream step {blocked[0]} {upstream[blocked[0]].status.lower()}",
        )
    key = cache_key(task, upstream)
    inputs = _inputs(task, upstream)
    if task.cache and task.reuse:
        entry = io_.lookup(key)
        if entry is not None and set(entry["outputs"]) == set(task.outputs):
            return StepResult(
                node=task.node,
                status="CACHED",
                cache_key=key,
                started_at=started,
                ended_at=now_ms(),
                duration=time.perf_counter() - clock,
                logs=f"cached: outputs reused from step run {entry['step_run_id']} "
                f"(cache key {key[:12]})",
                outputs=entry["outputs"],
                inputs=inputs,
                cached_from=entry["step_run_id"],
            )
    buffer = _LogBuffer()
    result = StepResult(node=task.node, status="FAILED", cache_key=key, started_at=started)
    result.inputs = inputs
    meter = _Meter()
    cpu, peak = 0.0, 0.0
    keep = memo is not None
    known: dict[tuple[str, str], Any] = {} if memo is None else memo
    try:

        def value_of(ref: InputRef) -> Any:
            slot = (ref.node, ref.output)
            if slot not in known:
                known[slot] = load_value(io_, upstream[ref.node].outputs[ref.output])
            return known[slot]

        for attempt in range(1, task.retries + 2):
            result.attempts = attempt
            if attempt > 1:
                buffer.add(f"--- attempt {attempt} of {task.retries + 1} ---\n")
            try:
                arguments = replace_refs(task.arguments, value_of)
                bound = inspect.BoundArguments(inspect.signature(task.fn), arguments)
                with _capture(buffer):
                    value = task.fn(*bound.args, **bound.kwargs)
                values = _split(task, value)
                with tempfile.TemporaryDirectory(prefix="relay-out-") as tmp:
                    result.outputs = {
                        name: store_value(io_, v, task.node, name, Path(tmp))
                        for name, v in values.items()
                    }
                result.status, result.error = "FINISHED", None
                if keep:
                    known.update(((task.node, name), v) for name, v in values.items())
                break
            except InvalidInput as exc:  # the same input fails the same way: no retry
                result.error, result.invalid_input = exc.message, True
                break
            except Exception as exc:  # the step's own error: kept without this frame
                tb = exc.__traceback__.tb_next if exc.__traceback__ else None
                result.error = "".join(traceback.format_exception(type(exc), exc, tb))
                buffer.add(result.error)
                if attempt <= task.retries:
                    time.sleep(task.backoff * 2 ** (attempt - 1))
    finally:
        cpu, peak = meter.stop()
    result.ended_at = now_ms()
    result.duration = time.perf_counter() - clock
    result.cpu_time, result.peak_memory_mb = cpu, peak
    result.logs = buffer.text()
    if result.status != "FINISHED":
        result.outputs = {}
    return result
