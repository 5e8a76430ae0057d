"""What a run captures about where it ran: git, Python, packages, command, resources."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
import time
from typing import Any

__all__ = ["ResourceClock", "capture_system"]


@functools.lru_cache(maxsize=8)
def _git(cwd: str) -> dict[str, Any]:
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = run("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = run("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
        "root": run("rev-parse", "--show-toplevel"),
    }


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, tuple[str, str]]:
    from importlib import metadata

    mapping: dict[str, tuple[str, str]] = {}
    for module, dists in metadata.packages_distributions().items():
        for dist in dists[:1]:
            try:
                mapping[module] = (dist, metadata.version(dist))
            except metadata.PackageNotFoundError:
                continue
    return mapping


_packages_cache: tuple[int, dict[str, str]] = (-1, {})


def _imported_packages() -> dict[str, str]:
    """Versions of the distributions whose modules this process has imported."""
    global _packages_cache
    count = len(sys.modules)
    if _packages_cache[0] == count:
        return _packages_cache[1]
    known = _distributions()
    found: dict[str, str] = {}
    for name in list(sys.modules):
        if "." in name or name.startswith("_"):
            continue
        hit = known.get(name)
        if hit:
            found[hit[0]] = hit[1]
    _packages_cache = (count, dict(sorted(found.items())))
    return _packages_cache[1]


@functools.lru_cache(maxsize=1)
def _machine() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": socket.gethostname(),
    }


def capture_system() -> dict[str, Any]:
    """The context of this process, recorded with each run it starts."""
    cwd = os.getcwd()
    return {
        "git": _git(cwd),
        **_machine(),
        "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]) if sys.argv else "",
        "cwd": cwd,
        "packages": _imported_packages(),
    }


def _peak_memory_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class ResourceClock:
    """CPU time used by this process since the clock started, and its peak memory."""

    def __init__(self) -> None:
        self._cpu = time.process_time()

    def cpu_time(self) -> float:
        """CPU seconds (all threads of this process) since start."""
        return time.process_time() - self._cpu

    def peak_memory_mb(self) -> float | None:
        """Peak resident memory of this process so far, MiB."""
        return _peak_memory_mb()
