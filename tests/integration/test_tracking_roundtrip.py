"""Hypothesis: whatever log_params, log_metrics and set_tags accept reads back unchanged.

Runs on SQLite, PostgreSQL and HTTP (the `backend` fixture); examples are bounded so the three
together take seconds. Values the call refuses must raise InvalidInput, never anything else.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relayml.domain.ports import Backend
from relayml.domain.validation import INT64_MAX, INT64_MIN, MAX_TIME_MS, MIN_TIME_MS
from relayml.errors import InvalidInput

KEYS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_\-. :]{0,40}", fullmatch=True)
TEXT = st.text(max_size=60) | st.integers() | st.floats() | st.booleans()
POINT = st.tuples(
    KEYS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(MIN_TIME_MS, MAX_TIME_MS),
)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@SETTINGS
@given(params=st.dictionaries(KEYS, TEXT, max_size=5), tags=st.dictionaries(KEYS, TEXT, max_size=5))
def test_params_and_tags_read_back(
    backend: Backend, project: str, params: dict, tags: dict
) -> None:
    run = backend.create_run(project, "props")
    try:
        backend.log_params(run.id, params)
        backend.set_tags(run.id, tags)
    except InvalidInput:
        return  # refused as a whole, with a message: nothing of it may be stored
    stored = backend.get_run(run.id)
    assert stored.params == {k: v if isinstance(v, str) else str(v) for k, v in params.items()}
    assert stored.tags == {k: str(v) for k, v in tags.items()}


@SETTINGS
@given(points=st.lists(POINT, min_size=1, max_size=20))
def test_metric_points_read_back(backend: Backend, project: str, points: list) -> None:
    run = backend.create_run(project, "props")
    backend.log_metrics(run.id, points)
    for key in {p[0] for p in points}:
        expected = sorted(
            ((s, t, v) for k, v, s, t in points if k == key), key=lambda p: (p[0], p[1])
        )
        got = backend.get_metric_history(run.id, key)
        assert [(p.step, p.timestamp) for p in got] == [(s, t) for s, t, _ in expected]
        assert all(_same(p.value, v) for p, (_, _, v) in zip(got, expected, strict=True))
    latest = backend.get_run(run.id).metrics
    assert set(latest) == {p[0] for p in points}


def test_text_with_a_nul_character_reads_back_or_is_refused(backend: Backend, project: str) -> None:
    run = backend.create_run(project, "props")
    try:
        backend.log_params(run.id, {"p": "a\x00b"})
    except InvalidInput as exc:
        assert "NUL" in str(exc)
    else:
        assert backend.get_run(run.id).params == {"p": "a\x00b"}
