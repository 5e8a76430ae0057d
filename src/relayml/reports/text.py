"""The report's building blocks and how its cells show values (times, numbers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["Block", "Section", "dt", "num", "spans", "when"]

# ("p", text) | ("table", headers, rows) | ("svg", markup)
Block = tuple[Any, ...]
# (anchor, title, blocks)
Section = tuple[str, str, list[Block]]


def when(value: Any) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM' (UTC, as stored); '-' for none."""
    if not value:
        return "-"
    return str(value).replace("T", " ")[:16]


def num(value: Any) -> str:
    """A figure with 4 significant digits; '-' for none."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def dt(value: Any) -> datetime:
    """An ISO time back to a datetime."""
    return datetime.fromisoformat(str(value))


def spans(numbers: list[int]) -> str:
    """Numbers as runs: [1, 2, 3, 5, 7, 8] -> '1-3, 5, 7-8' (1,000 versions stay one line)."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
