"""How the command line shows values: times, numbers, sizes and Rich tables (no I/O here)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from relayml.domain.validation import datetime_from_ms

__all__ = [
    "fit_title",
    "format_bytes",
    "format_duration",
    "format_number",
    "format_time",
    "format_value",
    "key_value_table",
    "plain_table",
    "table",
    "truncate",
]

_MAX_CELL = 60


def format_time(value: datetime | int | None) -> str:
    """A timestamp (aware datetime or epoch milliseconds) in local time, ISO style, to seconds."""
    if value is None:
        return ""
    if isinstance(value, int):
        value = datetime_from_ms(value)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_number(value: float | None, *, precise: bool = False) -> str:
    """A metric value: 6 significant digits (all of them when precise); NaN and infinities named."""
    if value is None:
        return ""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if precise:
        return repr(float(value))
    return f"{value:.6g}"


def format_duration(seconds: float | None) -> str:
    """Seconds as '0.42s', '1m 05s' or '2h 03m'."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_bytes(size: int) -> str:
    """A size in B, KiB, MiB or GiB."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def truncate(text: str, limit: int = _MAX_CELL) -> str:
    """Text cut to limit characters with an ellipsis (the full value is in --json)."""
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_value(value: Any, limit: int = _MAX_CELL) -> str:
    """Any stored value as one table cell: numbers formatted, structures as short JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, (dict, list, tuple)):
        from pydantic_core import to_json

        return truncate(to_json(value, inf_nan_mode="strings").decode(), limit)
    return truncate(str(value), limit)


def table(
    columns: Sequence[str], rows: Iterable[Sequence[str | Text]], *, title: str | None = None
) -> Table:
    """A Rich table; the id-like first column never wraps."""
    result = Table(title=title, title_justify="left", show_lines=False)
    for index, name in enumerate(columns):
        if index == 0:
            result.add_column(name, no_wrap=True, overflow="fold")
        else:
            result.add_column(name, overflow="fold")
    for row in rows:
        result.add_row(*row)
    return result


def key_value_table(items: Mapping[str, Any], *, title: str | None = None) -> Table:
    """A two-column table of names and values; empty values are left out."""
    result = Table(title=title, title_justify="left", show_header=False, box=None)
    result.add_column("key", style="bold", no_wrap=True)
    result.add_column("value", overflow="fold")
    for key, value in items.items():
        cell = value if isinstance(value, str) else format_value(value)
        if cell:
            result.add_row(key, cell)
    return result


def fit_title(result: Table) -> Table:
    """The table made at least as wide as its title, so that a narrow table keeps it on a line."""
    if isinstance(result.title, str):
        result.min_width = len(result.title)
    return result


def plain_table(columns: Sequence[str], *, title: str | None = None) -> Table:
    """An empty Rich table in the style of the other commands, for cells with styles."""
    result = fit_title(Table(title=title, title_justify="left"))
    for index, name in enumerate(columns):
        result.add_column(name, no_wrap=index == 0, overflow="fold")
    return result
