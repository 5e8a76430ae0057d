"""Checks on names, keys, values and paths that users type."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from numbers import Real
from typing import Any, overload

from relayml.errors import InvalidInput

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "check_artifact_path",
    "check_key",
    "check_metric_rows",
    "check_metric_value",
    "check_name",
    "check_params",
    "check_step",
    "check_tags",
    "check_time_ms",
    "datetime_from_ms",
]

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
# Times are epoch milliseconds from 1970-01-01 to 9999-12-30T23:59:59.999Z (UTC): every one of
# them is a datetime in any time zone. Steps are signed 64-bit integers, as the database stores.
MIN_TIME_MS = 0
MAX_TIME_MS = 253_402_214_399_999
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-. /:]+$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")


def check_key(key: Any, what: str) -> str:
    """Return a valid metric/param/tag key or raise InvalidInput saying why it is not."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"{what} key must be a non-empty string, got {key!r}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{what} key {key[:40]!r}... is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}. Use a shorter key."
        )
    if not _KEY_RE.match(key) or ".." in key.split("/") or key.startswith("/"):
        raise InvalidInput(
            f"{what} key {key!r} has characters that are not allowed; use letters, digits, "
            "and _ - . / : or spaces (no leading '/', no '..' segments)."
        )
    return key


def check_name(name: Any, what: str) -> str:
    """Return a valid project/experiment/run name or raise InvalidInput."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{what} name must be a non-empty string, got {name!r}.")
    if len(name) > 200:
        raise InvalidInput(f"{what} name is {len(name)} characters long; the limit is 200.")
    if not _NAME_RE.match(name):
        raise InvalidInput(
            f"{what} name {name!r} is not allowed: start with a letter or digit and use only "
            "letters, digits, '_', '-' and '.'."
        )
    return name


def check_metric_value(key: str, value: Any) -> float:
    """Return the metric value as a float; NaN and ±inf are kept (see docs/tracking.md)."""
    if type(value) is float:  # the common case, without the slower ABC check below
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidInput(
            f"metric {key!r} must be a number, got {type(value).__name__} {value!r}. "
            "Log text as a param or tag instead."
        )
    return float(value)


def _no_nul(what: str, key: str, text: str) -> str:
    if "\x00" in text:
        raise InvalidInput(
            f"{what} {key!r} has a NUL character (\\x00) in its value, which a PostgreSQL store "
            "cannot hold (nor SQLite reliably); remove it, or log binary data as an artifact."
        )
    return text


def check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Validate tag keys and turn values into their text form (no NUL character)."""
    return {check_key(k, "tag"): _no_nul("tag", k, str(v)) for k, v in tags.items()}


def check_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Validate param keys and turn values into their text form."""
    clean: dict[str, str] = {}
    for key, value in params.items():
        check_key(key, "param")
        text = _no_nul("param", key, value if isinstance(value, str) else str(value))
        if len(text) > MAX_PARAM_VALUE_LENGTH:
            raise InvalidInput(
                f"param {key!r} has a value of {len(text)} characters; the limit is "
                f"{MAX_PARAM_VALUE_LENGTH}. Log long values as an artifact."
            )
        clean[key] = text
    return clean


def check_artifact_path(path: Any) -> str:
    """Return a normalised relative artifact path or raise InvalidInput."""
    if not isinstance(path, str) or not path.strip():
        raise InvalidInput(f"artifact path must be a non-empty string, got {path!r}.")
    if len(path) > 1000:
        raise InvalidInput(f"artifact path is {len(path)} characters long; the limit is 1000.")
    if path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        raise InvalidInput(
            f"artifact path {path!r} must be relative, with '/' between folders "
            "(e.g. 'plots/roc.png')."
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidInput(f"artifact path {path!r} must not contain '..' segments.")
    if not parts or any("\x00" in p for p in parts):
        raise InvalidInput(f"artifact path {path!r} is not a valid file path.")
    return "/".join(parts)


def check_metric_rows(points: Iterable[Sequence[Any]]) -> list[tuple[str, float, int, int]]:
    """Validate metric points given as (key, value, step, timestamp)."""
    seen: set[str] = set()
    result: list[tuple[str, float, int, int]] = []
    for point in points:
        if len(point) != 4:
            raise InvalidInput(
                f"a metric point is (key, value, step, timestamp_ms), got {point!r}."
            )
        key, value, step, ts = point
        if key not in seen:
            check_key(key, "metric")
            seen.add(key)
        if type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
            check_step(key, step)
        if type(ts) is not int or not MIN_TIME_MS <= ts <= MAX_TIME_MS:
            check_time_ms(ts, f"metric {key!r}: timestamp")
        result.append((key, check_metric_value(key, value), step, ts))
    return result


def check_time_ms(value: Any, what: str) -> int:
    """Return a time in epoch milliseconds inside the stored range, or raise InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be integer milliseconds since 1970, got {value!r}.")
    if not MIN_TIME_MS <= value <= MAX_TIME_MS:
        raise InvalidInput(
            f"{what} {value} is out of range: times are milliseconds since 1970-01-01 UTC, "
            f"from {MIN_TIME_MS} to {MAX_TIME_MS} (9999-12-30). Check the unit (ms, not ns)."
        )
    return value


def check_step(key: str, step: Any) -> int:
    """Return a metric step that fits a signed 64-bit integer, or raise InvalidInput."""
    if isinstance(step, bool) or not isinstance(step, int):
        raise InvalidInput(f"metric {key!r}: step must be an integer, got {step!r}.")
    if not INT64_MIN <= step <= INT64_MAX:
        raise InvalidInput(
            f"metric {key!r}: step {step} does not fit a 64-bit integer "
            f"({INT64_MIN} to {INT64_MAX})."
        )
    return step


@overload
def datetime_from_ms(ms: int) -> datetime: ...
@overload
def datetime_from_ms(ms: None) -> None: ...
def datetime_from_ms(ms: int | None) -> datetime | None:
    """Epoch milliseconds to an aware UTC datetime; values out of range are clamped to it."""
    if ms is None:
        return None
    clamped = min(max(int(ms), MIN_TIME_MS), MAX_TIME_MS)
    return datetime.fromtimestamp(clamped / 1000, tz=UTC)
