"""Checks on names, keys, values and paths that users type."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

from relayml.errors import InvalidInput

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "check_artifact_path",
    "check_key",
    "check_metric_rows",
    "check_metric_value",
    "check_name",
    "check_params",
]

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
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


def check_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Validate param keys and turn values into their text form."""
    clean: dict[str, str] = {}
    for key, value in params.items():
        check_key(key, "param")
        text = value if isinstance(value, str) else str(value)
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
        if type(step) is not int and (isinstance(step, bool) or not isinstance(step, int)):
            raise InvalidInput(f"metric {key!r}: step must be an integer, got {step!r}.")
        if type(ts) is not int and (isinstance(ts, bool) or not isinstance(ts, int)):
            raise InvalidInput(f"metric {key!r}: timestamp must be integer ms, got {ts!r}.")
        result.append((key, check_metric_value(key, value), step, ts))
    return result
