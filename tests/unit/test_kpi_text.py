"""KPI figures read as plain numbers: thousands separated, never in scientific notation."""

from __future__ import annotations

import pytest

from relayml.monitoring.kpis import plain_number, progress_text


def test_a_kpi_against_its_target_is_in_plain_numbers() -> None:
    figure = {"value": 13950.0, "target": 50000.0, "unit": "EUR", "meets_target": False}
    assert progress_text("revenue_kept", figure) == (
        "revenue_kept: 13,950 EUR of the 50,000 target (28%), not met"
    )
    figure = {"value": 1234567.0, "target": 2e6, "unit": "EUR", "meets_target": False}
    assert "1,234,567 EUR of the 2,000,000 target" in progress_text("k", figure)
    assert progress_text("rate", {"value": 41.5, "unit": "%"}) == "rate: 41.5%"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (41.0, "41"),
        (12.345678, "12.35"),
        (0.8234567, "0.8235"),
        (0.000012346, "0.00001235"),
        (-13950.4, "-13,950"),
        (1e12, "1,000,000,000,000"),
    ],
)
def test_plain_numbers(value: float, shown: str) -> None:
    assert plain_number(value) == shown
