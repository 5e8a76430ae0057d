"""A step-run record with missing or wrong fields is refused naming the field (issue #11).

The fuzzer found POST /api/v1/pipeline-runs/{id}/steps answering 500 (KeyError) on such a record;
the same record sent in-process raised KeyError too.
"""

from __future__ import annotations

from typing import Any

import pytest

from relayml.domain.ports import Backend
from relayml.errors import InvalidInput

GOOD: dict[str, Any] = {
    "step": "load",
    "status": "FINISHED",
    "cache_key": "k" * 64,
    "attempts": 1,
    "started_at": 1_700_000_000_000,
    "ended_at": 1_700_000_000_500,
    "duration": 0.5,
    "cpu_time": 0.1,
    "peak_memory_mb": 50.0,
    "logs": "",
    "error": None,
    "outputs": {"table": {"sha256": "0" * 64, "kind": "arrow"}},
    "inputs": [],
}

BAD: list[tuple[dict[str, Any], str]] = [
    ({}, "step"),
    ({k: v for k, v in GOOD.items() if k != "started_at"}, "started_at"),
    ({k: v for k, v in GOOD.items() if k != "status"}, "step status None"),
    ({**GOOD, "status": ["FINISHED"]}, "step status"),
    ({**GOOD, "step": 7}, "step"),
    ({**GOOD, "started_at": "soon"}, "started_at"),
    ({**GOOD, "started_at": 2**70}, "started_at"),
    ({**GOOD, "ended_at": -5}, "ended_at"),
    ({**GOOD, "attempts": "two"}, "attempts"),
    ({**GOOD, "duration": "long"}, "duration"),
    ({**GOOD, "logs": ["a"]}, "logs"),
    ({**GOOD, "error": 3}, "error"),
    ({**GOOD, "outputs": ["table"]}, "outputs"),
    ({**GOOD, "outputs": {"table": 1}}, "outputs"),
    ({**GOOD, "cache_key": "x" * 65}, "cache_key"),
    ({**GOOD, "inputs": "nope"}, "inputs"),
]


def test_a_bad_step_record_is_invalid_input_and_nothing_is_stored(
    backend: Backend, project: str
) -> None:
    run = backend.create_pipeline_run(project, "m:f")
    for record, field in BAD:
        with pytest.raises(InvalidInput, match=field):
            backend.record_step_run(run.id, record)
    assert backend.get_pipeline_run(run.id).steps == []
    backend.record_step_run(run.id, GOOD, cache=True)
    (step,) = backend.get_pipeline_run(run.id).steps
    assert step.step == "load" and step.status == "FINISHED"
