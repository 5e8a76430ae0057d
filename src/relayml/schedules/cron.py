"""Cron expressions of schedules (UTC): checked with messages that say what to fix, and the
times they name, by croniter."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from croniter import croniter
from croniter.croniter import CroniterBadDateError, CroniterError

from relayml.errors import InvalidInput

__all__ = ["check_cron", "latest_time", "next_time"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
EXAMPLE = "e.g. '0 6 * * *' runs at 06:00 UTC daily"
# (name, lowest, highest, names allowed in place of numbers)
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_PART = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


def _check_field(
    expr: str, name: str, low: int, high: int, names: tuple[str, ...], text: str
) -> None:
    bad = f"{expr!r}: {name} must be {low}-{high}"
    if names:
        bad += f" or {names[0]}-{names[-1]}"
    for part in text.lower().split(","):
        match = _PART.match(part)
        if match is None:
            raise InvalidInput(f"{expr!r}: {name} {part!r} is not a cron field; {EXAMPLE}.")
        values, step = match.group(1), match.group(2)
        if step is not None and int(step) == 0:
            raise InvalidInput(f"{expr!r}: the step of {name} must be 1 or more; {EXAMPLE}.")
        if values == "*":
            continue
        for value in values.split("-"):
            if value in names:
                continue
            if not value.isdigit() or not low <= int(value) <= high:
                raise InvalidInput(f"{bad}; {EXAMPLE}.")


def check_cron(expr: str) -> str:
    """The expression, tidied, if it is a valid 5-field cron expression (or @daily...)."""
    text = " ".join(expr.split())
    if text.lower() in _ALIASES:
        return text.lower()
    parts = text.split(" ")
    if len(parts) != 5:
        raise InvalidInput(
            f"{expr!r} has {len(parts)} field(s); a cron expression has 5: minute hour "
            f"day-of-month month day-of-week (UTC), or @hourly, @daily, @weekly; {EXAMPLE}."
        )
    for (name, low, high, names), part in zip(_FIELDS, parts, strict=True):
        _check_field(expr, name, low, high, names, part)
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError as exc:
        raise InvalidInput(
            f"{expr!r} names no time that exists (such as 30 February); {EXAMPLE}."
        ) from exc
    except (CroniterError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"{expr!r} is not a valid cron expression ({exc}); {EXAMPLE}.") from exc
    return text


def latest_time(expr: str, now: datetime) -> datetime:
    """The newest time the expression names at or before now (UTC)."""
    it = croniter(expr, now.astimezone(UTC))
    if croniter.match(expr, now.astimezone(UTC).replace(second=0, microsecond=0)):
        return now.astimezone(UTC).replace(second=0, microsecond=0)
    found: datetime = it.get_prev(datetime)
    return found


def next_time(expr: str, now: datetime) -> datetime:
    """The first time the expression names after now (UTC)."""
    found: datetime = croniter(expr, now.astimezone(UTC)).get_next(datetime)
    return found
