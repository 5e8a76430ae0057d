"""The MLflow API's mapping onto relayml, route by route, on SQLite and on PostgreSQL: experiments
and runs (tests/integration/test_mlflow_registry_api.py: artifacts, logged models, registry).

The app with auth off (the caller is the local administrator) over a real store, called with
MLflow's own request bodies; every answer is checked, and so is what relayml stored. The real
MLflow clients are driven against a real server in tests/e2e/test_mlflow_client.py.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi.testclient import TestClient

from relayml.backend import LocalBackend
from tests.fixtures.mlflow_api import error, ok, world

__all__ = ["world"]


def test_experiments_and_runs(world: tuple[TestClient, LocalBackend]) -> None:
    client, backend = world
    created = ok(
        client,
        "POST",
        "/experiments/create",
        json={"name": "My churn / v1", "tags": [{"key": "team", "value": "risk"}]},
    )
    exp_id = created["experiment_id"]
    other = ok(
        client,
        "POST",
        "/experiments/create",
        json={"name": "in churn", "tags": [{"key": "relay.project", "value": "churn"}]},
    )
    assert backend.list_experiments("churn")[0].name == "in-churn"
    assert error(client, "POST", "/experiments/create", json={"name": "My churn / v1"})[:2] == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    got = ok(
        client, "GET", "/experiments/get-by-name", params={"experiment_name": "My churn / v1"}
    )["experiment"]
    assert got["experiment_id"] == exp_id and {"key": "team", "value": "risk"} in got["tags"]
    assert backend.get_experiment("mlflow", "My-churn-v1").id == int(exp_id)
    ok(
        client,
        "POST",
        "/experiments/set-experiment-tag",
        json={"experiment_id": exp_id, "key": "stage", "value": "dev"},
    )
    ok(
        client,
        "POST",
        "/experiments/delete-experiment-tag",
        json={"experiment_id": exp_id, "key": "team"},
    )
    ok(
        client,
        "POST",
        "/experiments/update",
        json={"experiment_id": other["experiment_id"], "new_name": "renamed"},
    )
    assert backend.list_experiments("churn")[0].name == "renamed"
    found = ok(client, "POST", "/experiments/search", json={"filter": "tags.stage = 'dev'"})[
        "experiments"
    ]
    assert [e["name"] for e in found] == ["My churn / v1"]
    assert (
        error(client, "POST", "/experiments/search", json={"filter": "creation_time > 5"})[1]
        == "INVALID_PARAMETER_VALUE"
    )
    # runs, in the Default experiment ("0") too
    default_run = ok(client, "POST", "/runs/create", json={"experiment_id": "0"})["run"]
    assert default_run["info"]["experiment_id"] == "0"
    assert backend.get_run(default_run["info"]["run_id"]).experiment == "Default"
    runs = []
    for i, name in enumerate(["alpha run", "beta", "gamma"]):
        run = ok(
            client,
            "POST",
            "/runs/create",
            json={"experiment_id": exp_id, "run_name": name, "start_time": 1_700_000_000_000 + i},
        )["run"]
        run_id = run["info"]["run_id"]
        runs.append(run_id)
        batch = {
            "run_id": run_id,
            "metrics": [
                {
                    "key": "loss",
                    "value": 1.0 - i / 10 - s / 100,
                    "timestamp": 1_700_000_000_000 + s,
                    "step": s,
                }
                for s in range(3)
            ],
            "params": [{"key": "lr", "value": str(0.1 * (i + 1))}],
            "tags": [{"key": "team", "value": "risk" if i else "growth"}],
        }
        ok(client, "POST", "/runs/log-batch", json=batch)
    assert backend.get_run(runs[0]).name == "alpha-run"
    ok(client, "POST", "/runs/update", json={"run_id": runs[1], "run_name": "beta two"})
    ok(client, "POST", "/runs/set-tag", json={"run_id": runs[1], "key": "tmp", "value": "x"})
    ok(client, "POST", "/runs/delete-tag", json={"run_id": runs[1], "key": "tmp"})
    assert error(client, "POST", "/runs/delete-tag", json={"run_id": runs[1], "key": "tmp"})[
        :2
    ] == (404, "RESOURCE_DOES_NOT_EXIST")
    dataset = {"name": "customers", "digest": "abc123", "source_type": "local", "source": "{}"}
    ok(
        client,
        "POST",
        "/runs/log-inputs",
        json={
            "run_id": runs[0],
            "datasets": [
                {"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": dataset}
            ],
        },
    )
    finished = ok(
        client,
        "POST",
        "/runs/update",
        json={"run_id": runs[2], "status": "KILLED", "end_time": 1_700_000_100_000},
    )
    assert finished["run_info"]["status"] == "KILLED"
    got = ok(client, "GET", "/runs/get", params={"run_id": runs[0]})["run"]
    assert got["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    assert got["data"]["metrics"] == [
        {"key": "loss", "value": 0.98, "timestamp": 1_700_000_000_002, "step": 2}
    ]
    assert got["inputs"]["dataset_inputs"][0]["dataset"]["digest"] == "abc123"
    assert any(n.kind == "dataset" for n in backend.lineage("run", runs[0], depth=1).nodes)
    search = {
        "experiment_ids": [exp_id],
        "filter": "attributes.run_name LIKE 'beta%' or tags.team = 'growth'",
        "order_by": ["metrics.loss ASC"],
    }
    assert [
        r["info"]["run_name"] for r in ok(client, "POST", "/runs/search", json=search)["runs"]
    ] == ["beta-two", "alpha-run"]
    page = ok(
        client,
        "POST",
        "/runs/search",
        json={
            "experiment_ids": [exp_id],
            "max_results": 2,
            "order_by": ["attributes.start_time ASC"],
        },
    )
    assert len(page["runs"]) == 2 and page["next_page_token"]
    rest = ok(
        client,
        "POST",
        "/runs/search",
        json={
            "experiment_ids": [exp_id],
            "max_results": 2,
            "order_by": ["attributes.start_time ASC"],
            "page_token": page["next_page_token"],
        },
    )
    assert [r["info"]["run_id"] for r in rest["runs"]] == [runs[2]]
    assert (
        error(
            client,
            "POST",
            "/runs/search",
            json={"experiment_ids": [exp_id, other["experiment_id"]]},
        )[1]
        == "INVALID_PARAMETER_VALUE"
    )
    history = ok(
        client,
        "GET",
        "/metrics/get-history",
        params={"run_id": runs[0], "metric_key": "loss", "max_results": 2},
    )
    assert [m["step"] for m in history["metrics"]] == [0, 1]
    more = ok(
        client,
        "GET",
        "/metrics/get-history",
        params={"run_id": runs[0], "metric_key": "loss", "page_token": history["next_page_token"]},
    )
    assert [m["step"] for m in more["metrics"]] == [2]
    ok(client, "POST", "/runs/delete", json={"run_id": runs[1]})
    deleted = ok(
        client,
        "POST",
        "/runs/search",
        json={"experiment_ids": [exp_id], "run_view_type": "DELETED_ONLY"},
    )["runs"]
    assert [r["info"]["run_id"] for r in deleted] == [runs[1]]
    ok(client, "POST", "/runs/restore", json={"run_id": runs[1]})
    ok(client, "POST", "/experiments/delete", json={"experiment_id": exp_id})
    assert backend.get_experiment("mlflow", "My-churn-v1").deleted_at is not None
    ok(client, "POST", "/experiments/restore", json={"experiment_id": exp_id})
    # bad input says what was wrong, and nothing half-written stays
    too_many = {"run_id": runs[0], "tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}
    assert "at most 100 tags" in error(client, "POST", "/runs/log-batch", json=too_many)[2]
    assert "t0" not in backend.get_run(runs[0]).tags
    assert (
        error(
            client,
            "POST",
            "/runs/log-metric",
            json={"run_id": runs[0], "key": "m", "value": "high"},
        )[1]
        == "INVALID_PARAMETER_VALUE"
    )
    assert error(client, "GET", "/runs/get", params={"run_id": "f" * 32})[:2] == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error(client, "POST", "/runs/create", content=b"{not json")[0] == 400
    assert error(client, "POST", "/api/2.0/mlflow/no/such/route", json={})[:2] == (
        404,
        "ENDPOINT_NOT_FOUND",
    )


def test_metric_history_pages_every_value_as_stored(
    world: tuple[TestClient, LocalBackend],
) -> None:
    """get-history answers what tracking stored, page by page: NaN and the infinities as
    MLflow's JSON writes them, the order by step then time, the last page without a token."""
    client, backend = world
    exp_id = ok(client, "POST", "/experiments/create", json={"name": "history"})["experiment_id"]
    run_id = ok(client, "POST", "/runs/create", json={"experiment_id": exp_id})["run"]["info"][
        "run_id"
    ]
    special = ["NaN", "Infinity", "-Infinity"]
    points = [
        {"key": "loss", "value": special[s % 3] if s % 50 == 7 else 1 / (s + 1), "step": s,
         "timestamp": 1_700_000_000_000 + (2500 - s)}
        for s in range(2500)
    ]  # fmt: skip
    points.append({"key": "loss", "value": 0.25, "step": 3, "timestamp": 1})  # same step, earlier
    for first in range(0, len(points), 1000):
        batch = {"run_id": run_id, "metrics": points[first : first + 1000]}
        ok(client, "POST", "/runs/log-batch", json=batch)
    expected = [
        (p.step, p.timestamp, "nan" if math.isnan(p.value) else p.value)
        for p in backend.get_metric_history(run_id, "loss")
    ]
    assert len(expected) == 2501 and expected[3] == (3, 1, 0.25)
    seen: list[tuple[int, int, Any]] = []
    token = None
    while True:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": 1000}
        page = ok(client, "GET", "/metrics/get-history", params={**params, "page_token": token})
        assert {m["key"] for m in page["metrics"]} == {"loss"}
        seen += [
            (m["step"], m["timestamp"], "nan" if math.isnan(m["value"]) else m["value"])
            for m in page["metrics"]
        ]
        token = page.get("next_page_token")
        if token is None:
            assert len(page["metrics"]) == 501
            break
        assert len(page["metrics"]) == 1000
    assert seen == expected
    assert {v for _, _, v in seen} >= {"nan", math.inf, -math.inf}
    whole = ok(
        client, "GET", "/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
    )
    assert len(whole["metrics"]) == 2501 and "next_page_token" not in whole
    acc = [{"key": "acc", "value": s / 7, "step": s, "timestamp": 5 + s} for s in range(3)]
    ok(client, "POST", "/runs/log-batch", json={"run_id": run_id, "metrics": acc})
    finite = ok(
        client, "GET", "/metrics/get-history", params={"run_id": run_id, "metric_key": "acc"}
    )
    assert finite == {"metrics": acc}
    missing = {"run_id": run_id, "metric_key": "nope"}
    assert error(client, "GET", "/metrics/get-history", params=missing)[:2] == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
