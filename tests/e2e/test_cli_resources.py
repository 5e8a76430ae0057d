"""`relay resources` and the overdue-review alert end to end: the CLI on a store whose model was
served by a real model server (its prediction and request logs), checked against the store."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.store.schema import model_versions, registered_models
from relayml.store.schema_promotion import evaluations, promotions
from tests.e2e.test_alerts import receiver  # noqa: F401  (the webhook receiver fixture)
from tests.fixtures.warm_cli import run_relay
from tests.integration.test_model_reports import build


def _relay(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env = {**clean, "RELAY_HOME": str(home), "COLUMNS": "220"}
    return run_relay(args, env=env, cwd=Path.cwd(), timeout=300)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The churn store: runs, datasets, two models, churn served by a real model server."""
    folder = tmp_path_factory.mktemp("resources-e2e") / "home"
    build(folder)
    return folder


def test_relay_resources_matches_the_store(home: Path) -> None:
    out = _relay(home, "resources", "-p", "churn", "--json")
    assert out.returncode == 0, out.stderr
    o = json.loads(out.stdout)
    backend = LocalBackend(get_settings(home=home))
    try:
        runs = backend.search_runs("churn").runs
        served = backend.logs.read("predictions", "churn", "churn-production").num_rows
        requests = backend.logs.read("requests", "churn", "churn-production")
    finally:
        backend.close()
    compute = {(c["kind"], c["name"]): c for c in o["compute"]}
    assert compute[("project", "runs")]["runs"] == len(runs)
    peak = max(r.peak_memory_mb for r in runs if r.peak_memory_mb is not None)
    assert compute[("project", "runs")]["peak_memory_mb"] == pytest.approx(peak)
    assert {("model", "churn"), ("model", "legacy")} <= set(compute)
    serving = {s["deployment"]: s for s in o["serving"]}
    production = serving["churn-production"]
    assert production["predictions"] == served == 30
    assert (
        production["requests"] == requests.num_rows and production["latency_source"] == "requests"
    )
    assert production["p99_ms"] >= production["p50_ms"] > 0
    kinds = {(s["kind"], s["name"]) for s in o["storage"]}
    assert {("dataset", "customers"), ("dataset", "holdout"), ("model", "churn")} <= kinds
    assert ("prediction log", "predictions/churn-production") in kinds
    assert next(b["subject"] for b in o["bottlenecks"] if b["kind"] == "log growth") == (
        "churn-production"
    )

    table = _relay(home, "resources", "-p", "churn")
    assert table.returncode == 0, table.stderr
    for words in ("churn: compute", "churn: storage", "churn-production", "bottlenecks"):
        assert words in table.stdout
    typo = _relay(home, "resources", "-p", "nope")
    assert typo.returncode != 0 and "Traceback" not in typo.stderr
    assert "nope" in typo.stderr + typo.stdout


def _age(home: Path, model: str, days: int) -> None:
    """As if the model had been last validated `days` earlier."""
    backend = LocalBackend(get_settings(home=home))
    try:
        with backend.store.write() as conn:
            ids = (
                select(model_versions.c.id)
                .join(registered_models, registered_models.c.id == model_versions.c.model_id)
                .where(registered_models.c.name == model)
            )
            for table, column in ((evaluations, "created_at"), (promotions, "requested_at")):
                conn.execute(
                    update(table)
                    .where(table.c.version_id.in_(ids))
                    .values({column: getattr(table.c, column) - days * 86_400_000})
                )
    finally:
        backend.close()


def test_an_overdue_review_fires_through_relay_monitor_run(
    home: Path,
    tmp_path: Path,
    receiver: tuple[str, list[dict[str, Any]]],  # noqa: F811
) -> None:
    url, received = receiver
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "alerts:\n"
        f"  - {{name: churn review, model: churn, figure: review_overdue_days, above: 0,"
        f" severity: critical, webhook: {url}}}\n"
    )
    assert _relay(home, "alerts", "set", str(rules), "-p", "churn").returncode == 0
    fresh = _relay(home, "monitor", "run", "-p", "churn", "--json")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr  # validated today: not due
    assert json.loads(fresh.stdout)[0]["outcome"] == "ok" and received == []

    _age(home, "churn", 200)  # churn has no tier: reviewed every 90 days
    late = _relay(home, "monitor", "run", "-p", "churn", "--json")
    assert late.returncode == 1, late.stderr
    result = json.loads(late.stdout)[0]
    assert result["outcome"] == "fired" and 109 < result["value"] < 111
    assert [r["figure"] for r in received] == ["review_overdue_days"]
    assert received[0]["status"] == "open" and received[0]["model"] == "churn"
    events = _relay(home, "alerts", "events", "-p", "churn", "--json")
    newest = json.loads(events.stdout)[0]  # (the build's own traffic alert is older)
    assert (newest["rule"], newest["severity"], newest["status"]) == (
        "churn review",
        "critical",
        "open",
    )
