"""The report's building blocks and how its cells show values (times, numbers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["Block", "Section", "dt", "num", "when"]

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
