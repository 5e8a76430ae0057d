"""How the model risk report writes numbers, times and lists of versions."""

from __future__ import annotations

from relayml.reports.text import num, spans, when


def test_versions_are_written_as_runs() -> None:
    assert spans([]) == ""
    assert spans([3]) == "3"
    assert spans([8, 1, 2, 3, 5, 7]) == "1-3, 5, 7-8"
    assert spans(list(range(1, 1001))) == "1-1000"


def test_times_and_numbers() -> None:
    assert when(None) == "-" and when("2026-12-02T22:15:07.123+00:00") == "2026-12-02 22:15"
    assert num(0.123456) == "0.1235" and num(None) == "-" and num(7) == "7"
