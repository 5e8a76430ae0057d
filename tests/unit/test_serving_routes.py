"""The model server's route labels are bounded: its own routes each have one, every other path
is "other", so no caller can grow the metrics' label sets (or the memory behind them) by
trying paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayml.serving.metrics import ServerMetrics, route_of

OWN = {
    "/predict": "/predict",
    "/metrics": "/metrics",
    "/v2": "/v2",
    "/v2/health/live": "/v2/health/live",
    "/v2/health/ready": "/v2/health/ready",
    "/v2/models/churn": "/v2/models/{name}",
    "/v2/models/churn/ready": "/v2/models/{name}/ready",
    "/v2/models/churn/infer": "/v2/models/{name}/infer",
    "/v2/models/churn/outcomes": "/v2/models/{name}/outcomes",
    "/v2/models/churn/versions/3": "/v2/models/{name}/versions/{v}",
    "/v2/models/churn/versions/3/ready": "/v2/models/{name}/versions/{v}/ready",
    "/v2/models/churn/versions/3/infer": "/v2/models/{name}/versions/{v}/infer",
}


@pytest.mark.parametrize(("path", "label"), OWN.items())
def test_each_route_of_the_server_has_its_own_label(path: str, label: str) -> None:
    assert route_of(path) == label


@pytest.mark.parametrize(
    "path",
    [
        "/v2/health/x1",
        "/v2/models/churn/whatever",
        "/v2/models/churn/infer/more",
        "/v2/models/churn/versions/3/outcomes",
        "/v2/models/churn/versions/3/infer/x",
        "/v2/models/churn/versions",
        "/v2/models/churn/versions/",
        "/v2/models//infer",
        "/v2/models/",
        "/admin",
        "/predict/",
    ],
)
def test_any_other_path_is_other(path: str) -> None:
    assert route_of(path) == "other"


@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=40))
def test_paths_never_make_more_labels_than_the_server_has_routes(tails: list[str]) -> None:
    labels = {route_of(f"/v2/models/m/{tail}") for tail in tails}
    labels |= {route_of(f"/v2/health/{tail}") for tail in tails}
    labels |= {route_of(f"/{tail}") for tail in tails}
    assert labels <= {*OWN.values(), "/openapi.json", "/docs", "/", "other"}


def test_a_thousand_made_up_paths_are_one_label_set_in_the_metrics() -> None:
    metrics = ServerMetrics()
    for i in range(1000):
        metrics.request(route_of(f"/v2/models/churn/probe-{i}"), 404, 0.001)
    text = metrics.exposition().decode()
    counted = [line for line in text.splitlines() if line.startswith("relay_http_requests_total")]
    assert counted == ['relay_http_requests_total{route="other",status="404"} 1000.0']
