"""Replayed traffic: a request that carries its own time in the X-Relay-Time header.

A model server started with `relay serve … --replay` logs each prediction of such a request at
that time instead of now, so past traffic (a backfill, a simulation of weeks of use, a load test
of last month's requests) lands in the monitoring windows it belongs to. Any other server refuses
the header: a live server's log says when it answered, and nobody can write into its past.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from relayml.domain.validation import MIN_TIME_MS
from relayml.errors import InvalidInput

__all__ = ["HEADER", "logged_at"]

HEADER = "X-Relay-Time"
_AHEAD_MS = 60_000  # a replaying client's clock may run a minute ahead of the server's


def _parse(value: str) -> int:
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{HEADER}: {value!r} is not a time; send epoch milliseconds (1767225600000) or an "
            "ISO 8601 date-time (2026-01-01T00:00:00Z; UTC when no offset is given)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def logged_at(value: str | None, replay: bool) -> int | None:
    """The epoch-ms time a request's predictions are logged at; None: now.

    InvalidInput when the server does not replay, or for a time that is not one, before 1970 or
    in the future.
    """
    if value is None:
        return None
    if not replay:
        raise InvalidInput(
            f"this server logs each prediction when it answers it; {HEADER} is for replaying "
            "past traffic: start a server for that with `relay serve … --replay`."
        )
    moment = _parse(value)
    now = time.time_ns() // 1_000_000
    if not MIN_TIME_MS <= moment <= now + _AHEAD_MS:
        raise InvalidInput(
            f"{HEADER}: {value!r} is outside what a replay may log: from 1970-01-01 to now "
            f"({datetime.fromtimestamp(now / 1000, UTC):%Y-%m-%dT%H:%M:%SZ}); the future has "
            "not happened yet."
        )
    return moment
