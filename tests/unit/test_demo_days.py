"""The demo's simulated days: day 55 is today, and no simulated day's customers are scored in
the future, whatever the hour the demo runs at (the replaying server refuses the future)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relayml.demo.traffic import WEEKS, first_day


@pytest.mark.parametrize(
    ("now", "scored_at"),
    [
        (datetime(2026, 12, 5, 15, 30, tzinfo=UTC), (9, 0)),  # after 09:00: at 09:00
        (datetime(2026, 12, 5, 9, 0, tzinfo=UTC), (9, 0)),
        (datetime(2026, 12, 5, 8, 59, 59, tzinfo=UTC), (8, 59)),  # before: on the minute
        (datetime(2026, 12, 5, 0, 20, 41, tzinfo=UTC), (0, 20)),
        (datetime(2026, 12, 5, 0, 0, 5, tzinfo=UTC), (0, 0)),  # just after midnight
    ],
)
def test_the_last_simulated_day_is_today_and_never_in_the_future(
    now: datetime, scored_at: tuple[int, int]
) -> None:
    day0 = first_day(now)
    last = day0 + timedelta(days=7 * WEEKS - 1)
    assert last.date() == now.date() and last <= now
    assert (day0.hour, day0.minute, day0.second) == (*scored_at, 0)
    assert (now - day0).days == 7 * WEEKS - 1
