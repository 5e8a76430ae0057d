"""The home page's best runs: ordered by the metric alone (the index's walk), then kept as the
filtered search (`metrics.X > -1e300`) would give them, on a real store."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import relayml.api  # noqa: F401 - the web layer loads under the API's app
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.web.attention import _best

T0 = 1_700_000_000_000


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    backend = LocalBackend(get_settings(home=tmp_path / "home", user="dana"))
    backend.create_project("churn")
    for i in range(12):  # runs without the metric, newest last
        backend.create_run("churn", "e", start_time=T0 + i)
    return backend


def _run(backend: LocalBackend, value: float, i: int) -> str:
    run = backend.create_run("churn", "e", start_time=T0 + 100 + i)
    backend.log_metrics(run.id, [("auc", value, 0, T0)])
    return str(run.id)


def _filtered(backend: LocalBackend, higher: bool) -> list[str]:
    order = [f"metrics.auc {'DESC' if higher else 'ASC'}"]
    page = backend.search_runs("churn", filter="metrics.auc > -1e300", order_by=order,
                               max_results=5)  # fmt: skip
    return [r.id for r in page.runs]


@pytest.mark.parametrize("higher", [True, False])
@pytest.mark.parametrize(
    "values",
    [
        [],  # no run has it
        [0.7, 0.9],  # fewer than 5 have it
        [0.1 * i for i in range(9)],  # more than 5
        [0.5, math.nan, 0.8, 0.6, 0.7, 0.9, 0.4],  # a NaN among them
        [0.5, -math.inf, -1e301, 0.8, 0.6, 0.7, 0.9, 0.4],  # values the filter refuses
    ],
)
def test_best_runs_are_the_filtered_search(
    backend: LocalBackend, values: list[float], higher: bool
) -> None:
    for i, value in enumerate(values):
        _run(backend, value, i)
    found = [r.id for r in _best(backend, "churn", "metrics.auc", "auc", higher)]
    assert found == _filtered(backend, higher)
    assert len(found) == min(5, sum(1 for v in values if v > -1e300))
