"""Deleting and restoring runs and experiments, on SQLite, PostgreSQL and over HTTP."""

from __future__ import annotations

import io
import time

import pytest

from relayml.domain.entities import AuditQuery
from relayml.domain.ports import Backend
from relayml.errors import Conflict, NotFound


def now() -> int:
    return time.time_ns() // 1_000_000


def _ids(backend: Backend, project: str, **kwargs: object) -> set[str]:
    return {r.id for r in backend.search_runs(project, **kwargs).runs}  # type: ignore[arg-type]


def test_a_deleted_run_is_hidden_refuses_logging_and_comes_back(
    backend: Backend, project: str
) -> None:
    kept = backend.create_run(project, "e1")
    gone = backend.create_run(project, "e1")
    backend.log_params(gone.id, {"lr": 0.1})
    deleted = backend.delete_run(gone.id)
    assert deleted.deleted_at is not None and deleted.params == {"lr": "0.1"}
    assert _ids(backend, project) == {kept.id}
    assert _ids(backend, project, include_deleted=True) == {kept.id, gone.id}
    assert _ids(backend, project, filter="params.lr = '0.1'") == set()
    assert backend.get_run(gone.id).deleted_at is not None  # still readable by id

    refused = f"run {gone.id} was deleted"
    with pytest.raises(Conflict, match=refused) as caught:
        backend.log_metrics(gone.id, [("loss", 1.0, 0, now())])
    assert f"relay runs restore {gone.id}" in str(caught.value)
    with pytest.raises(Conflict, match=refused):
        backend.log_params(gone.id, {"other": 1})
    with pytest.raises(Conflict, match=refused):
        backend.set_tags(gone.id, {"t": "x"})
    with pytest.raises(Conflict, match=refused):
        backend.log_artifact(gone.id, "a.txt", io.BytesIO(b"x"))
    with pytest.raises(Conflict, match=refused):
        backend.end_run(gone.id, "FINISHED")
    with pytest.raises(Conflict, match="already deleted"):
        backend.delete_run(gone.id)

    restored = backend.restore_run(gone.id)
    assert restored.deleted_at is None and restored.params == {"lr": "0.1"}
    assert _ids(backend, project) == {kept.id, gone.id}
    backend.log_metrics(gone.id, [("loss", 1.0, 0, now())])
    with pytest.raises(Conflict, match="is not deleted"):
        backend.restore_run(gone.id)
    with pytest.raises(NotFound, match="does not exist"):
        backend.delete_run("deadbeefdeadbeef")

    actions = [e.action for e in backend.list_audit(AuditQuery(entity_id=gone.id))]
    assert "run.delete" in actions and "run.restore" in actions


def test_a_deleted_experiment_hides_its_runs_and_takes_no_new_ones(
    backend: Backend, project: str
) -> None:
    other = backend.create_run(project, "keep")
    run = backend.create_run(project, "old")
    extra = backend.create_run(project, "old")
    backend.delete_run(extra.id)
    experiment = backend.delete_experiment(project, "old")
    assert experiment.deleted_at is not None
    assert [e.name for e in backend.list_experiments(project)] == ["keep"]
    shown = backend.list_experiments(project, include_deleted=True)
    assert sorted(e.name for e in shown) == ["keep", "old"]
    assert backend.get_experiment(project, "old").deleted_at is not None
    assert _ids(backend, project) == {other.id}
    assert _ids(backend, project, experiments=["old"]) == set()
    assert _ids(backend, project, include_deleted=True) == {other.id, run.id, extra.id}

    with pytest.raises(Conflict, match=r"experiment 'old' .*was deleted") as caught:
        backend.create_run(project, "old")
    assert "relay experiments restore old" in str(caught.value)
    with pytest.raises(Conflict, match="was deleted"):
        backend.log_metrics(run.id, [("loss", 1.0, 0, now())])
    with pytest.raises(Conflict, match="deleted"):
        backend.create_experiment(project, "old")
    with pytest.raises(Conflict, match="already deleted"):
        backend.delete_experiment(project, "old")
    with pytest.raises(Conflict, match="restore experiment 'old' first"):
        backend.restore_run(extra.id)

    restored = backend.restore_experiment(project, "old")
    assert restored.deleted_at is None
    assert run.id in _ids(backend, project)
    backend.create_run(project, "old")
    with pytest.raises(Conflict, match="is not deleted"):
        backend.restore_experiment(project, "old")
    with pytest.raises(NotFound, match="experiment 'ghost' does not exist"):
        backend.delete_experiment(project, "ghost")
    entity = f"{project}/old"
    actions = [e.action for e in backend.list_audit(AuditQuery(entity_id=entity))]
    assert "experiment.delete" in actions and "experiment.restore" in actions
