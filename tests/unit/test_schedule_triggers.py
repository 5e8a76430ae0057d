"""Triggers of schedules without I/O: event texts, cron expressions and the times they name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relayml.domain.schedules import Trigger, parse_event
from relayml.errors import InvalidInput
from relayml.schedules.cron import check_cron, latest_time, next_time


@pytest.mark.parametrize(
    ("text", "trigger"),
    [
        ("dataset:customers", Trigger(kind="dataset", dataset="customers")),
        ("alert:prices moved", Trigger(kind="alert", rule="prices moved")),
        (
            "promotion:churn@production",
            Trigger(kind="promotion", model="churn", environment="production"),
        ),
    ],
)
def test_an_event_reads_back_as_written(text: str, trigger: Trigger) -> None:
    assert parse_event(text) == trigger
    assert trigger.text() == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customers", "is not a trigger; write dataset:customers"),
        ("dataset:", "is not a trigger"),
        ("dataset:customers@3", "name the dataset without a version (dataset:customers)"),
        ("promotion:churn", "write promotion:MODEL@ENV"),
        ("promotion:churn@prod", "ENV one of development, staging, production"),
    ],
)
def test_a_bad_event_says_how_to_write_one(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_event(text)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "'61 * * * *': minute must be 0-59; e.g. '0 6 * * *' runs at 06:00 UTC"),
        ("0 24 * * *", "hour must be 0-23"),
        ("0 6 0 * *", "day of month must be 1-31"),
        ("0 6 * 13 *", "month must be 1-12 or jan-dec"),
        ("0 6 * * fun", "day of week must be 0-7 or sun-sat"),
        ("*/0 * * * *", "the step of minute must be 1 or more"),
        ("0 6 * * * *", "has 6 field(s); a cron expression has 5"),
        ("0 0 31 2 *", "names no time that exists"),
        ("0 6 ? * *", "day of month '?' is not a cron field"),
    ],
)
def test_a_bad_cron_expression_says_what_to_fix(expr: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_cron(expr)
    assert message in caught.value.message


def test_cron_times_are_utc_and_the_latest_includes_now() -> None:
    assert check_cron("  0  6 * *   mon-fri ") == "0 6 * * mon-fri"
    assert check_cron("@Daily") == "@daily"
    now = datetime(2026, 12, 3, 6, 0, 40, tzinfo=UTC)  # a Thursday
    assert latest_time("0 6 * * *", now) == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    assert latest_time("30 6 * * *", now) == datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    assert next_time("0 6 * * mon-fri", now) == datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
    assert next_time("0 6 * * mon-fri", datetime(2026, 12, 4, 7, tzinfo=UTC)).day == 7
