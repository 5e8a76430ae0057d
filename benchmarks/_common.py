"""Helpers shared by the benchmark scripts: timing, the same data for every tool, machine facts,
peer environments, and the printed and written tables.

This module imports only the standard library at the top: it also runs inside a peer's own
virtual environment (where neither relayml nor Rich is installed).
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / ".work"  # git-ignored: peer venvs, scratch stores
RESULTS = BENCH_DIR / "RESULTS.md"

__all__ = [
    "BENCH_DIR",
    "RESULTS",
    "TABLE_HEADERS",
    "WORK_DIR",
    "Figure",
    "LoadSampler",
    "PeerEnv",
    "PeerProcess",
    "clock",
    "fmt_rate",
    "fmt_seconds",
    "git_state",
    "log",
    "machine_info",
    "markdown_table",
    "median",
    "metric_values",
    "print_table",
    "run_data",
    "serve",
    "version_of",
    "write_results_section",
]


# ---------------------------------------------------------------- timing and numbers


@contextmanager
def clock() -> Iterator[list[float]]:
    """Time a block: ``with clock() as t: ...``; afterwards ``t[0]`` holds the seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def median(values: Sequence[float]) -> float:
    """The median (of an odd or even count)."""
    return float(statistics.median(values))


def fmt_seconds(seconds: float) -> str:
    """Seconds in a unit a reader takes in at a glance."""
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def fmt_rate(count: float, unit: str) -> str:
    """A throughput with thousands separators: ``12,345 points/s``."""
    return f"{count:,.0f} {unit}/s"


def log(message: str) -> None:
    """A progress line on stderr (stdout keeps the tables)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class LoadSampler:
    """Samples the 1-minute load average every few seconds in a daemon thread.

    Other processes on the machine skew every figure; the run reports the load it saw.
    """

    def __init__(self, every: float = 5.0) -> None:
        import threading

        self.samples: list[float] = []
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._loop, name="load-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self._every)

    def stop(self) -> str:
        """Stop sampling; a sentence on the load seen."""
        self._stop.set()
        if not self.samples:
            return "load average: not sampled"
        return (
            f"1-minute load average during the run: mean {statistics.fmean(self.samples):.1f}, "
            f"max {max(self.samples):.1f} on {os.cpu_count()} cores (this benchmark alone keeps "
            "it near 1; more means other work shared the machine)"
        )


# ---------------------------------------------------------------- the same data for every tool


def run_data(n: int, seed: int = 42) -> Iterator[tuple[dict[str, str], dict[str, float]]]:
    """Params p0..p4 (p1 in {'a','b'}) and metrics m0..m4 (uniform in [0, 1)) of n runs.

    Pure standard library, so relayml's process and a peer's venv make exactly the same values.
    """
    rng = random.Random(seed)
    optimizers = ("adam", "sgd", "rmsprop")
    for _ in range(n):
        params = {
            "p0": str(rng.randrange(100)),
            "p1": rng.choice("ab"),
            "p2": f"{rng.random():.4f}",
            "p3": rng.choice(optimizers),
            "p4": str(rng.randrange(1, 1000)),
        }
        metrics = {f"m{j}": rng.random() for j in range(5)}
        yield params, metrics


def metric_values(n: int, seed: int = 7) -> list[float]:
    """n metric values of one series (a noisy decreasing loss)."""
    rng = random.Random(seed)
    return [1.0 / (1 + i / 1000) + rng.random() * 0.01 for i in range(n)]


# ---------------------------------------------------------------- machine and versions


def version_of(dist: str) -> str:
    """The installed version of a distribution, or '-'."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def machine_info() -> dict[str, str]:
    """nproc, CPU model, memory, OS and Python of this machine."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    memory = "-"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": cpu,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def git_state() -> str:
    """'at <commit>' of the relayml checkout measured, and whether src/ had uncommitted changes."""
    root = BENCH_DIR.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f"at {commit}" + (" with uncommitted changes in src/" if dirty else "")


# ---------------------------------------------------------------- a peer in its own venv


@dataclass
class PeerEnv:
    """A peer tool installed in its own venv under benchmarks/.work/ (made on first use).

    Used when a peer cannot share relayml's environment (MLflow 3.17 pins pyarrow<26, which
    would downgrade ours). ``spec`` is what pip installs; ``probe`` is a module to import.
    """

    name: str
    spec: list[str]
    probe: str
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = WORK_DIR / f"{self.name}-venv"

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def _stamp(self) -> Path:
        return self.path / ".bench-spec"

    def ready(self) -> bool:
        """The venv exists with exactly this spec installed and the probe module imports."""
        stamp = self._stamp()
        if not self.python.exists() or not stamp.exists():
            return False
        if stamp.read_text().strip() != " ".join(self.spec):
            return False
        probe = subprocess.run(
            [str(self.python), "-c", f"import {self.probe}"], capture_output=True, check=False
        )
        return probe.returncode == 0

    def ensure(self) -> Path:
        """Create or update the venv if needed; the path of its python."""
        if self.ready():
            return self.python
        log(f"installing {' '.join(self.spec)} into {self.path} (once; about a minute)")
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        if not self.python.exists():
            base = getattr(sys, "_base_executable", None) or sys.executable
            subprocess.run([base, "-m", "venv", str(self.path)], check=True)
        pip = [str(self.python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *self.spec], check=True)
        self._stamp().write_text(" ".join(self.spec) + "\n")
        return self.python


class PeerProcess:
    """A worker process in a peer's venv, driven by one JSON request and reply per line."""

    def __init__(self, argv: list[str]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)  # the peer venv must not see relayml's site-packages
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, bufsize=1
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            raise RuntimeError(f"the peer worker stopped (exit code {code}); see its stderr above")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"the peer worker failed:\n{reply['error']}")
        return reply

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one request and wait for its reply."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        """Ask the worker to stop, and wait for it."""
        if self._proc.poll() is None:
            try:
                self.call("quit")
            except (RuntimeError, BrokenPipeError, OSError):
                pass
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()


def serve(handlers: dict[str, Callable[..., dict[str, Any]]]) -> None:
    """The worker side of PeerProcess: answer JSON requests on stdin until 'quit'.

    The peer's own prints go to stderr, so stdout carries replies only.
    """
    import traceback

    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr

    def reply(payload: dict[str, Any]) -> None:
        out.write(json.dumps(payload) + "\n")
        out.flush()

    reply({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        if op == "quit":
            reply({"bye": True})
            break
        try:
            reply(handlers[op](**request))
        except Exception:
            reply({"error": traceback.format_exc()})


# ---------------------------------------------------------------- figures and tables


@dataclass
class Figure:
    """One line of the final table: relayml's value against the peer's, and the goal."""

    name: str
    unit: str  # "points/s", "runs/s" (higher is better) or "ms" (lower is better)
    relay: float | None
    peer: float | None
    goal: float | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.unit.endswith("/s")

    @property
    def ratio(self) -> float | None:
        if self.relay is None or self.peer is None or self.peer == 0:
            return None
        return self.relay / self.peer

    @property
    def goal_met(self) -> bool | None:
        if self.goal is None or self.relay is None:
            return None
        return self.relay >= self.goal if self.higher_is_better else self.relay <= self.goal

    def cells(self) -> list[str]:
        def value(v: float | None) -> str:
            if v is None:
                return "-"
            return f"{v:,.1f}" if self.unit == "ms" else f"{v:,.0f}"

        ratio = self.ratio
        met = self.goal_met
        if ratio is None:
            speed = "-"
        else:
            times = ratio if self.higher_is_better else 1 / ratio
            speed = f"{_sig(times)}x faster" if times >= 1 else f"{_sig(1 / times)}x slower"
        goal = (
            "-"
            if self.goal is None
            else ("≥ " if self.higher_is_better else "≤ ") + value(self.goal)
        )
        return [
            self.name,
            self.unit,
            value(self.relay),
            value(self.peer),
            "-" if ratio is None else _sig(ratio),
            speed,
            goal,
            "-" if met is None else ("yes" if met else "NO"),
        ]


def _sig(x: float, digits: int = 3) -> str:
    """x to about `digits` significant digits, never in e-notation: 2,494 / 11.3 / 0.000401."""
    if x == 0 or abs(x) >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    return f"{x:.{decimals}f}"


TABLE_HEADERS = ["figure", "unit", "relayml", "peer", "relay/peer", "relayml is", "goal", "met"]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on stdout, with Rich when it is installed, else plain text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
        print(f"\n{title}")
        for row in (headers, ["-" * w for w in widths], *rows):
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))
        return
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[str(c) for c in row])
    Console(width=max(130, len(title) + 4)).print(table)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The same table as Markdown."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the part of RESULTS.md between the markers for this benchmark."""
    begin = f"<!-- BEGIN {name} (written by benchmarks/{name}.py --write-results) -->"
    end = f"<!-- END {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
