"""The registry, evaluations, policies and promotions on SQLite, PostgreSQL and over HTTP."""

from __future__ import annotations

import io
from typing import Any

import pytest

from relayml.domain.models import ColumnSpec, ModelFile, Promotion, Signature
from relayml.domain.ports import Backend
from relayml.errors import Conflict, InvalidInput, NotFound, PermissionDenied

SIGNATURE = Signature(
    inputs=[ColumnSpec(name="x", dtype="float64")],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
    task="classification",
    classes=[0, 1],
    has_proba=True,
)

POLICY = """
evaluation:
  dataset: holdout
environments:
  staging:
    checks:
      - metric: auc
        min: 0.7
  production:
    requires: [staging]
    checks:
      - metric: auc
        min: 0.75
      - no_regression: auc
        margin: 0.01
      - segment_gap: recall
        by: region
        max: 0.2
    approvals:
      - role: risk_manager
"""


def register(backend: Backend, project: str, content: bytes, name: str = "churn") -> int:
    sha, size = backend.upload_blob(io.BytesIO(content))
    version = backend.create_model_version(
        project,
        name,
        flavor="sklearn",
        files=[ModelFile(path="model.joblib", sha256=sha, size=size)],
        signature=SIGNATURE,
        requirements=["scikit-learn==1.5.0"],
        details={"class": "test"},
    )
    return version.version


def evaluate(backend: Backend, project: str, ref: str, auc: float, gap: float = 0.1) -> None:
    result: dict[str, Any] = {
        "dataset": "holdout",
        "target": "churned",
        "task": "classification",
        "rows": 1000,
        "metrics": {"auc": auc, "recall": 0.6},
        "segments": {"region": {"north": {"recall": 0.6}, "south": {"recall": 0.6 - gap}}},
    }
    backend.create_evaluation(project, ref, result)


def approve_as(
    backend: Backend, user: str, project: str, ref: str, env: str, comment: str = ""
) -> Promotion:
    other = backend.with_actor(user)
    try:
        return other.decide_promotion(project, ref, env, "approve", comment)
    finally:
        if hasattr(other, "url"):  # an HTTP client of its own
            other.close()


def test_versions_are_numbered_and_found_by_reference(backend: Backend, project: str) -> None:
    assert register(backend, project, b"one") == 1
    assert register(backend, project, b"two") == 2
    latest = backend.get_model_version(project, "churn")
    assert latest.version == 2 and latest.flavor == "sklearn"
    assert latest.signature == SIGNATURE and latest.created_by == "alice"
    assert backend.get_model_version(project, "churn/1").files[0].size == 3
    assert [v.version for v in backend.list_model_versions(project, "churn")] == [2, 1]
    assert backend.get_model(project, "churn").latest_version == 2
    with pytest.raises(NotFound, match="has no version 7"):
        backend.get_model_version(project, "churn/7")
    with pytest.raises(NotFound, match="model 'nope' does not exist"):
        backend.get_model_version(project, "nope/1")
    with pytest.raises(NotFound, match="no version of 'churn' is in production"):
        backend.get_model_version(project, "churn@production")
    with pytest.raises(InvalidInput, match="not a model reference"):
        backend.get_model_version(project, "churn/1/2")


def test_files_must_be_uploaded_first(backend: Backend, project: str) -> None:
    with pytest.raises(InvalidInput, match="not in the artifact store"):
        backend.create_model_version(
            project,
            "ghost",
            flavor="sklearn",
            files=[ModelFile(path="m.bin", sha256="a" * 64, size=1)],
            signature=SIGNATURE,
            requirements=[],
        )


def test_without_a_policy_promotion_moves_the_alias_with_history(
    backend: Backend, project: str
) -> None:
    register(backend, project, b"v1")
    register(backend, project, b"v2")
    assert backend.promote(project, "churn/1", "production", "first").status == "PROMOTED"
    assert backend.get_model_version(project, "churn@production").version == 1
    assert backend.promote(project, "churn/2", "production").status == "PROMOTED"
    rollback = backend.promote(project, "churn/1", "production", "v2 misbehaves")
    assert rollback.status == "PROMOTED"
    with pytest.raises(Conflict, match="already in production"):
        backend.promote(project, "churn/1", "production")
    history = backend.model_history(project, "churn")
    held = [(e.version, e.ended_at is None, e.reason) for e in history.aliases]
    assert held == [(1, False, "first"), (2, False, ""), (1, True, "v2 misbehaves")]
    assert all(e.assigned_by == "alice" for e in history.aliases)
    assert [p.status for p in history.promotions] == ["PROMOTED"] * 3


def test_policy_gates_and_approvals(backend: Backend, project: str) -> None:
    info = backend.set_policy(project, POLICY)
    assert info.revision == 1 and "production" in info.document["environments"]
    register(backend, project, b"good")
    evaluate(backend, project, "churn/1", auc=0.8)
    skipped = backend.promote(project, "churn/1", "production")
    assert skipped.status == "FAILED"
    failed = [g for g in skipped.gates if not g.passed]
    assert [g.name for g in failed] == ["passed through staging"]
    assert backend.promote(project, "churn/1", "staging").status == "PROMOTED"
    waiting = backend.promote(project, "churn/1", "production", "Q3 release")
    assert waiting.status == "PENDING_APPROVAL" and waiting.waiting_for == ["risk_manager"]
    assert all(g.passed for g in waiting.gates)
    with pytest.raises(Conflict, match="already waits for approval"):
        backend.promote(project, "churn/1", "production")
    with pytest.raises(PermissionDenied, match=r"needs the role (.*, )?risk_manager"):
        approve_as(backend, "bob", project, "churn/1", "production")
    backend.add_member(project, "alice", "risk_manager")
    with pytest.raises(PermissionDenied, match="alice logged churn/1 and so may not approve"):
        backend.decide_promotion(project, "churn/1", "production", "approve")
    backend.add_member(project, "rita", "risk_manager")
    done = approve_as(backend, "rita", project, "churn/1", "production", "looks fine")
    assert done.status == "PROMOTED" and done.approvals[0].user == "rita"
    assert done.approvals[0].comment == "looks fine"
    assert backend.get_model_version(project, "churn@production").version == 1


def test_failing_gates_name_figure_and_threshold(backend: Backend, project: str) -> None:
    backend.set_policy(project, POLICY)
    backend.add_member(project, "rita", "risk_manager")
    register(backend, project, b"v1")
    evaluate(backend, project, "churn/1", auc=0.8)
    backend.promote(project, "churn/1", "staging")
    backend.promote(project, "churn/1", "production")
    approve_as(backend, "rita", project, "churn/1", "production")
    register(backend, project, b"v2")
    evaluate(backend, project, "churn/2", auc=0.74, gap=0.3)
    backend.promote(project, "churn/2", "staging")
    report = backend.check_promotion(project, "churn/2", "production")
    assert not report.passed and report.approvals_needed == ["1 x risk_manager"]
    by_name = {g.name: g for g in report.gates}
    assert by_name["auc >= 0.75"].figure == pytest.approx(0.74)
    assert by_name["auc >= 0.75"].threshold == 0.75 and not by_name["auc >= 0.75"].passed
    regression = by_name["no regression of auc (margin 0.01)"]
    assert not regression.passed and regression.figure == pytest.approx(-0.06)
    gap = by_name["gap of recall across region <= 0.2"]
    assert not gap.passed and gap.figure == pytest.approx(0.3)
    assert backend.promote(project, "churn/2", "production").status == "FAILED"
    assert backend.get_model_version(project, "churn@production").version == 1


def test_gates_without_an_evaluation_fail_clearly(backend: Backend, project: str) -> None:
    backend.set_policy(project, POLICY)
    register(backend, project, b"v1")
    result = backend.promote(project, "churn/1", "staging")
    assert result.status == "FAILED"
    assert "no evaluation" in result.gates[0].detail


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("environments: [", "not valid YAML"),
        ("environments:\n  prod: {}", "environment 'prod'"),
        ("environments:\n  staging:\n    checks:\n      - metric: auc", "needs min, max"),
        ("environments:\n  staging:\n    checks:\n      - foo: 1", "policy entry"),
        ("environments:\n  production:\n    requires: [qa]", "'qa', which is not"),
    ],
)
def test_bad_policies_are_refused(backend: Backend, project: str, source: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        backend.set_policy(project, source)
    assert backend.get_policy(project).revision is None
