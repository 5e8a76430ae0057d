"""One behaviour, three transports: in-process SQLite, in-process PostgreSQL, HTTP server."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from relayml.domain.entities import KPI, RunStatus
from relayml.domain.ports import Backend
from relayml.errors import Conflict, InvalidInput, NotFound
from relayml.sdk import download_artifact


def now() -> int:
    return time.time_ns() // 1_000_000


def test_projects_carry_the_business_question_and_kpis(backend: Backend) -> None:
    kpis = [
        KPI(name="churn_rate", unit="%", direction="decrease", target=-10, description="monthly"),
        {"name": "revenue_kept", "unit": "EUR", "direction": "increase", "target": 50000},
    ]
    created = backend.create_project(
        "churn-kpi", business_question="reduce customer churn by 10%", kpis=kpis
    )
    assert created.business_question == "reduce customer churn by 10%"
    assert [k.name for k in created.kpis] == ["churn_rate", "revenue_kept"]
    assert created.owner == "alice"
    got = backend.get_project("churn-kpi")
    assert got.kpis[0].direction == "decrease" and got.kpis[1].target == 50000
    assert "churn-kpi" in [p.name for p in backend.list_projects()]
    updated = backend.update_project("churn-kpi", description="new", kpis=kpis[:1])
    assert updated.description == "new" and len(updated.kpis) == 1
    with pytest.raises(Conflict, match="already exists"):
        backend.create_project("churn-kpi")


def test_unknown_things_are_not_found_naming_them(backend: Backend, project: str) -> None:
    with pytest.raises(NotFound, match="project 'nope-x' does not exist"):
        backend.get_project("nope-x")
    with pytest.raises(NotFound, match="experiment 'ghost' does not exist"):
        backend.get_experiment(project, "ghost")
    with pytest.raises(NotFound, match="run 'deadbeef' does not exist"):
        backend.get_run("deadbeef")
    run = backend.create_run(project, "e1")
    with pytest.raises(NotFound, match=r"no artifact or folder 'missing\.txt'"):
        download_artifact(run.id, "missing.txt", "/tmp/never", backend=backend)


def test_bad_names_and_keys_are_invalid_input(backend: Backend, project: str) -> None:
    with pytest.raises(InvalidInput, match="project name"):
        backend.create_project("bad name!")
    run = backend.create_run(project, "e1")
    with pytest.raises(InvalidInput, match="limit is 250"):
        backend.log_params(run.id, {"k" * 251: 1})
    with pytest.raises(InvalidInput, match="limit is 250"):
        backend.log_metrics(run.id, [("m" * 251, 1.0, 0, now())])
    with pytest.raises(InvalidInput, match="must be a number"):
        backend.log_metrics(run.id, [("acc", "high", 0, now())])  # type: ignore[list-item]
    assert backend.get_run(run.id).params == {}


def test_run_life_cycle_params_tags_metrics(backend: Backend, project: str) -> None:
    run = backend.create_run(
        project, "baseline", name="first", tags={"team": "risk"}, system={"python": "3.11"}
    )
    assert run.status is RunStatus.RUNNING and run.experiment == "baseline"
    assert run.tags == {"team": "risk"} and run.system["python"] == "3.11"
    backend.log_params(run.id, {"max_depth": 3, "model": "gbm"})
    backend.log_params(run.id, {"max_depth": 3})  # same value again is fine
    with pytest.raises(Conflict) as err:
        backend.log_params(run.id, {"max_depth": 4})
    assert "'3'" in err.value.message and "'4'" in err.value.message
    backend.set_tags(run.id, {"team": "growth"})
    t = now()
    backend.log_metrics(
        run.id, [("loss", 0.9, 0, t), ("loss", 0.5, 1, t + 1), ("loss", 0.7, 0, t + 2)]
    )
    got = backend.get_run(run.id)
    assert got.params == {"max_depth": "3", "model": "gbm"}
    assert got.tags == {"team": "growth"}
    assert got.metrics == {"loss": 0.5}  # the highest step wins, not the last call
    history = backend.get_metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (0, 0.7), (1, 0.5)]
    backend.end_run(
        run.id, RunStatus.FINISHED, cpu_time=1.5, peak_memory_mb=100.0, points=[("loss", 0.2, 9, t)]
    )
    ended = backend.get_run(run.id)
    assert ended.status is RunStatus.FINISHED and ended.end_time is not None
    assert ended.wall_time is not None and ended.wall_time >= 0
    assert ended.cpu_time == 1.5
    with pytest.raises(Conflict, match="already ended"):
        backend.log_metrics(run.id, [("loss", 0.1, 2, now())])
    with pytest.raises(Conflict, match="already ended"):
        backend.log_params(run.id, {"other": 1})
    assert ended.metrics == {"loss": 0.2}  # points sent with the end are stored with it
    assert len(backend.get_metric_history(run.id, "loss")) == 4


def test_nan_and_infinity_are_kept(backend: Backend, project: str) -> None:
    run = backend.create_run(project, "e1")
    t = now()
    backend.log_metrics(
        run.id, [("loss", math.nan, 0, t), ("grad", math.inf, 0, t), ("low", -math.inf, 0, t)]
    )
    got = backend.get_run(run.id)
    assert math.isnan(got.metrics["loss"])
    assert got.metrics["grad"] == math.inf and got.metrics["low"] == -math.inf
    assert math.isnan(backend.get_metric_history(run.id, "loss")[0].value)


def test_search_filters_orders_and_pages(backend: Backend, project: str) -> None:
    ids = {}
    for i in range(12):
        run = backend.create_run(project, "grid" if i % 2 else "other", name=f"r{i}")
        backend.log_params(run.id, {"model": "gbm" if i % 3 == 0 else "lr", "i": i})
        if i != 5:
            backend.log_metrics(run.id, [("auc", 0.5 + i / 100, 0, now())])
        backend.end_run(run.id, RunStatus.FAILED if i == 7 else RunStatus.FINISHED)
        ids[i] = run.id
    page = backend.search_runs(
        project, filter="metrics.auc > 0.52 and params.model = 'gbm'", order_by=["metrics.auc DESC"]
    )
    assert [r.name for r in page.runs] == ["r9", "r6", "r3"]
    assert page.next_page_token is None
    failed = backend.search_runs(project, filter="status = 'FAILED'")
    assert [r.id for r in failed.runs] == [ids[7]]
    grid = backend.search_runs(project, experiments=["grid"], order_by=["metrics.auc ASC"])
    assert [r.name for r in grid.runs] == ["r1", "r3", "r7", "r9", "r11", "r5"]  # no auc: last
    seen: list[str] = []
    token = None
    while True:
        page = backend.search_runs(
            project, order_by=["metrics.auc DESC"], max_results=5, page_token=token
        )
        seen += [r.name for r in page.runs]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [f"r{i}" for i in (11, 10, 9, 8, 7, 6, 4, 3, 2, 1, 0)] + ["r5"]


def test_search_errors_point_at_the_token(backend: Backend, project: str) -> None:
    with pytest.raises(InvalidInput) as err:
        backend.search_runs(project, filter="metrics.auc 0.8")
    assert "position 12" in err.value.message and "^" in err.value.message
    with pytest.raises(InvalidInput, match="unknown field"):
        backend.search_runs(project, filter="metircs.auc > 1")
    with pytest.raises(InvalidInput, match="page token"):
        backend.search_runs(project, page_token="garbage")


def test_artifacts_files_and_folders(backend: Backend, project: str, tmp_path: Path) -> None:
    run = backend.create_run(project, "e1")
    (tmp_path / "model.txt").write_text("weights")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "roc.png").write_bytes(b"\x89PNG fake")
    backend.log_artifact(run.id, "model.txt", tmp_path / "model.txt")
    backend.log_artifact(run.id, "plots/roc.png", tmp_path / "plots" / "roc.png")
    backend.log_artifact(run.id, "copy/model.txt", tmp_path / "model.txt")
    listed = backend.list_artifacts(run.id)
    assert [a.path for a in listed] == ["copy/model.txt", "model.txt", "plots/roc.png"]
    assert listed[0].sha256 == listed[1].sha256  # same content, one blob
    assert [a.path for a in backend.list_artifacts(run.id, "plots")] == ["plots/roc.png"]
    out = download_artifact(run.id, "model.txt", tmp_path / "out.txt", backend=backend)
    assert out.read_text() == "weights"
    folder = download_artifact(run.id, "plots", tmp_path / "dl", backend=backend)
    assert (folder / "roc.png").read_bytes() == b"\x89PNG fake"
    (tmp_path / "other.txt").write_text("different")
    with pytest.raises(Conflict, match="different artifact"):
        backend.log_artifact(run.id, "model.txt", tmp_path / "other.txt")
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(InvalidInput):
            backend.log_artifact(run.id, bad, tmp_path / "other.txt")


def test_every_state_change_is_audited(backend: Backend, project: str) -> None:
    run = backend.create_run(project, "audited")
    backend.log_params(run.id, {"a": 1})
    backend.end_run(run.id, RunStatus.FINISHED)
    entries = backend.list_audit(entity_kind="run", entity_id=run.id)
    assert [e.action for e in entries] == ["run.end", "run.log_params", "run.create"]
    assert all(e.actor == "alice" for e in entries)
    assert entries[0].before == {"status": "RUNNING"}
    assert entries[0].after is not None and entries[0].after["status"] == "FINISHED"
    created = backend.list_audit(entity_kind="experiment", entity_id=f"{project}/audited")
    assert created[0].action == "experiment.create"
