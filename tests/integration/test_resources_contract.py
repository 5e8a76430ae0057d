"""The resource overview and the overdue-review alert on SQLite, PostgreSQL and over HTTP.

Everything the overview reports is first written through the real writers (runs with known CPU
time and peak memory, step runs with known durations, artifacts and datasets of known sizes,
prediction and request logs with known rows and latencies), then read back and compared.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, update

from relayml.backend import prediction_logs
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.domain.models import ModelFile
from relayml.domain.ports import Backend
from relayml.errors import NotFound
from relayml.predictions import PredictionLogs
from relayml.store import Store
from relayml.store.schema import model_versions, registered_models
from relayml.store.schema_promotion import evaluations, promotions
from tests.integration.test_registry_contract import SIGNATURE, evaluate, register

T0 = 1_767_225_600_000  # 2026-01-01, epoch ms


def _server_side(backend: Backend, request: pytest.FixtureRequest) -> tuple[PredictionLogs, str]:
    """The logs the backend's server reads, and its database URL."""
    local: Any = backend
    if hasattr(local, "logs"):
        return local.logs, str(local.settings.resolved_database_url)
    settings = get_settings(home=request.getfixturevalue("relay_server_home"))
    return prediction_logs(settings), str(settings.resolved_database_url)


def _run(
    backend: Backend, project: str, seconds: int, cpu: float, peak: float, files: dict[str, int]
) -> str:
    run = backend.create_run(project, "train", start_time=T0)
    for path, n in files.items():
        backend.log_artifact(run.id, path, io.BytesIO(b"x" * n))
    backend.end_run(
        run.id, "FINISHED", end_time=T0 + seconds * 1000, cpu_time=cpu, peak_memory_mb=peak
    )
    return run.id


def _steps(backend: Backend, project: str, durations: dict[str, float]) -> None:
    run = backend.create_pipeline_run(project, "flows:train")
    for step, duration in durations.items():
        backend.record_step_run(
            run.id,
            {"step": step, "status": "FINISHED", "cache_key": step, "attempts": 1,
             "started_at": T0, "ended_at": T0 + int(duration * 1000), "duration": duration,
             "cpu_time": duration / 2, "peak_memory_mb": 100 + duration},
        )  # fmt: skip
    backend.record_step_run(  # a cached step ran nothing: it does not count
        run.id, {"step": "load", "status": "CACHED", "cache_key": "c", "started_at": T0}
    )
    backend.finish_pipeline_run(run.id, "FINISHED")


def _serve(logs: PredictionLogs, project: str, deployment: str, ms: list[float],
           failed: int) -> None:  # fmt: skip
    now = int(time.time() * 1000)
    partition = f"project={project}/deployment={deployment}"
    n = len(ms)
    with logs.writer("predictions") as writer:
        writer.append(partition, {
            "timestamp": np.full(n, now, dtype=np.int64),
            "prediction_id": [f"{deployment}-{i}" for i in range(n)],
            "model": ["churn"] * n, "version": np.ones(n, dtype=np.int64),
            "latency_ms": np.asarray(ms), "prediction": np.zeros(n, dtype=np.int64),
        })  # fmt: skip
    with logs.writer("requests") as writer:
        writer.append(partition, {
            "timestamp": np.full(n, now, dtype=np.int64), "route": ["/predict"] * n,
            "status": [500] * failed + [200] * (n - failed), "ms": ms,
        })  # fmt: skip


def _bytes_under(folder: str) -> int:
    return sum(
        os.path.getsize(os.path.join(d, f))
        for d, _, files in os.walk(folder)
        for f in files
        if f.endswith(".parquet")
    )


def test_the_overview_reports_what_was_logged_and_ranks_the_worst_first(
    backend: Backend, project: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    first = _run(backend, project, 10, 4.0, 512.0, {"big.bin": 3000, "small.txt": 10})
    second = _run(backend, project, 30, 7.5, 1024.0, {"mid.bin": 500})
    for content in (b"m" * 700, b"n" * 300):  # two versions from one run: it counts once
        sha, size = backend.upload_blob(io.BytesIO(content))
        backend.create_model_version(
            project, "churn", flavor="sklearn", files=[ModelFile(path="model.joblib",
            sha256=sha, size=size)], signature=SIGNATURE, requirements=[], run_id=second,
        )  # fmt: skip
    _steps(backend, project, {"load": 2.0, "fit": 10.0})
    _steps(backend, project, {"load": 4.0, "fit": 20.0})
    version = log_dataset(backend, project, "customers", pd.DataFrame({"a": range(50)}))
    dataset_bytes = backend.fetch_blob(version.sha256, tmp_path / "d.parquet").stat().st_size
    logs, _ = _server_side(backend, request)
    slow = [float(i) for i in range(1, 101)]  # p99 99.01, 5 of 100 fail
    _serve(logs, project, "churn-production", slow, failed=5)
    _serve(logs, project, "churn-staging", [1.0, 2.0, 3.0, 4.0], failed=0)

    o = backend.resource_overview(project, days=7)
    compute = {(c.kind, c.name): c for c in o.compute}
    runs = compute[("project", "runs")]
    assert (runs.runs, runs.wall_seconds, runs.cpu_seconds) == (2, 40.0, 11.5)
    assert (runs.peak_memory_mb, runs.longest_seconds) == (1024.0, 30.0)
    model = compute[("model", "churn")]
    assert (model.runs, model.wall_seconds, model.peak_memory_mb) == (1, 30.0, 1024.0)
    pipeline = compute[("pipeline", "flows:train")]
    assert (pipeline.runs, pipeline.wall_seconds, pipeline.cpu_seconds) == (4, 36.0, 18.0)
    assert pipeline.peak_memory_mb == 120.0
    fit, load = compute[("step", "flows:train/fit")], compute[("step", "flows:train/load")]
    assert (fit.runs, fit.mean_seconds, fit.longest_seconds) == (2, 15.0, 20.0)
    assert (load.runs, load.mean_seconds, load.wall_seconds) == (2, 3.0, 6.0)

    storage = {(s.kind, s.name): (s.items, s.bytes) for s in o.storage}
    assert storage[("artifacts", "runs")] == (3, 3510)
    assert storage[("model", "churn")] == (2, 1000)
    assert storage[("dataset", "customers")] == (1, dataset_bytes)
    root = f"{logs.root}/predictions/project={project}/deployment=churn-production"
    assert storage[("prediction log", "predictions/churn-production")] == (1, _bytes_under(root))

    serving = {s.deployment: s for s in o.serving}
    prod = serving["churn-production"]
    assert (prod.predictions, prod.requests, prod.errors, prod.error_rate) == (100, 100, 5, 0.05)
    assert prod.predictions_in_window == 100
    assert prod.p99_ms == pytest.approx(float(np.percentile(slow, 99)))
    assert prod.p50_ms == pytest.approx(50.5) and prod.latency_source == "requests"
    assert prod.log_bytes == _bytes_under(root) + _bytes_under(
        root.replace("predictions/", "requests/", 1)
    )
    assert prod.log_bytes_per_day == pytest.approx(prod.log_bytes / 7)
    assert serving["churn-staging"].predictions == 4 and serving["churn-staging"].errors == 0

    ranked: dict[str, list[str]] = {}
    for b in o.bottlenecks:
        ranked.setdefault(b.kind, []).append(b.subject)
        assert b.rank == len(ranked[b.kind])
    assert ranked["slow step"] == ["flows:train/fit", "flows:train/load"]
    assert ranked["large artifact"] == [f"run {first}/big.bin", f"run {second}/mid.bin",
                                        f"run {first}/small.txt"]  # fmt: skip
    assert ranked["high latency"] == ["churn-production", "churn-staging"]
    assert ranked["error rate"] == ["churn-production"]  # staging failed nothing
    assert ranked["log growth"] == ["churn-production", "churn-staging"]

    with pytest.raises(NotFound):
        backend.resource_overview("no-such-project")


def _age_validation(database_url: str, project: str, model: str, days: int) -> None:
    """Make a model's evaluations and promotions `days` older (as if validated back then)."""
    store = Store(database_url)
    try:
        with store.write() as conn:
            ids = select(model_versions.c.id).join(
                registered_models, registered_models.c.id == model_versions.c.model_id
            ).where(registered_models.c.name == model, registered_models.c.project_id.in_(
                select(registered_models.c.project_id).where(registered_models.c.name == model)
            ))  # fmt: skip
            shift = days * 86_400_000
            for table, column in ((evaluations, "created_at"), (promotions, "requested_at")):
                conn.execute(
                    update(table)
                    .where(table.c.version_id.in_(ids))
                    .values({column: getattr(table.c, column) - shift})
                )
    finally:
        store.dispose()


def test_an_overdue_review_fires_an_alert_and_a_fresh_one_does_not(
    backend: Backend, project: str, request: pytest.FixtureRequest
) -> None:
    model_old, model_new = f"old{project[-6:]}", f"new{project[-6:]}"
    for name in (model_old, model_new):
        register(backend, project, name.encode(), name=name)
        evaluate(backend, project, f"{name}/1", 0.8)
        assert backend.promote(project, f"{name}/1", "staging").status == "PROMOTED"
    _, database_url = _server_side(backend, request)
    _age_validation(database_url, project, model_old, days=100)  # unrated: a review every 90 days
    backend.set_alert_rules(project, f"""
alerts:
  - {{name: old review, model: {model_old}, figure: review_overdue_days, above: 0}}
  - {{name: new review, model: {model_new}, figure: review_overdue_days, above: 0}}
""")  # fmt: skip
    results = {r["rule"]: r for r in backend.run_monitors(project)}
    assert results["old review"]["outcome"] == "fired"
    assert 9.5 < results["old review"]["value"] < 10.5  # due 90 days after, 100 days ago
    assert "overdue" in results["old review"]["detail"]
    assert results["new review"]["outcome"] == "ok"
    assert -90.5 < results["new review"]["value"] < -89.5
    events = backend.list_alert_events(project)
    assert [e.rule for e in events] == ["old review"]
    assert events[0].deliveries[0]["to"] == "log"
    entry = next(e for e in backend.inventory([project]) if e.model == model_old)
    assert entry.review_overdue and entry.open_alerts == 1
