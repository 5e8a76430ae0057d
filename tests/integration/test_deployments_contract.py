"""Deployments, their revisions, history and audit, and outcomes: SQLite, PostgreSQL and HTTP."""

from __future__ import annotations

import io
import uuid

import pytest

from relayml.domain.models import ColumnSpec, ModelFile, Signature
from relayml.domain.ports import Backend
from relayml.domain.serving import Variant, plan_variants
from relayml.errors import InvalidInput, NotFound

SIGNATURE = Signature(
    inputs=[ColumnSpec(name="x", dtype="float64")],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
    task="classification",
    classes=[0, 1],
    has_proba=True,
)
FOLLOW_ALIAS = [Variant(version=None, weight=100.0)]


def register(backend: Backend, project: str, name: str = "churn", versions: int = 2) -> None:
    """`versions` versions of a model (distinct content, so distinct files)."""
    for number in range(1, versions + 1):
        sha, size = backend.upload_blob(io.BytesIO(f"{name} v{number}".encode()))
        created = backend.create_model_version(
            project,
            name,
            flavor="sklearn",
            files=[ModelFile(path="model.joblib", sha256=sha, size=size)],
            signature=SIGNATURE,
            requirements=["scikit-learn==1.5.0"],
        )
        assert created.version == number


def prediction_id() -> str:
    return uuid.uuid4().hex[:24]


def test_single_follows_the_alias_once_a_version_is_promoted(
    backend: Backend, project: str
) -> None:
    register(backend, project)
    assert backend.deployment_state(project, "churn", "production") == (None, None)
    with pytest.raises(NotFound, match=r"no version of 'churn' is in production.*promote"):
        backend.deploy(project, "churn", "production", "single", FOLLOW_ALIAS)
    assert backend.deployment_state(project, "churn", "production") == (None, None)
    with pytest.raises(NotFound, match=r"'churn' has no deployment in production.*relay deploy"):
        backend.get_deployment(project, "churn", "production")

    backend.promote(project, "churn/1", "production")
    assert backend.deployment_state(project, "churn", "production") == (None, 1)
    deployment = backend.deploy(
        project, "churn", "production", "single", FOLLOW_ALIAS, reason="first release"
    )
    assert (deployment.project, deployment.model, deployment.environment) == (
        project,
        "churn",
        "production",
    )
    assert deployment.strategy == "single" and deployment.revision == 1
    assert deployment.variants == FOLLOW_ALIAS and deployment.sticky_key is None
    assert deployment.reason == "first release" and deployment.updated_by == "alice"
    assert deployment.key == "churn-production"
    assert backend.get_deployment(project, "churn", "production") == deployment
    assert backend.deployment_state(project, "churn", "production") == (1, 1)

    backend.promote(project, "churn/2", "production")
    assert backend.deployment_state(project, "churn", "production") == (1, 2)
    assert backend.get_deployment(project, "churn", "production").revision == 1


def following(variants: list[Variant], holder: int) -> list[Variant]:
    """The variants as stored: the holder's version follows the environment's alias."""
    return [
        Variant(version=None, weight=v.weight, mode=v.mode) if v.version == holder else v
        for v in variants
    ]


def test_a_pinned_version_enters_the_environment_through_a_promotion(
    backend: Backend, project: str
) -> None:
    register(backend, project)
    pinned = [Variant(version=2, weight=100.0)]
    deployment = backend.deploy(project, "churn", "staging", "single", pinned, reason="try it")
    assert deployment.variants == FOLLOW_ALIAS and deployment.revision == 1
    assert backend.deployment_state(project, "churn", "staging") == (1, 2)
    history = backend.model_history(project, "churn")
    assert [(p.version, p.environment, p.status) for p in history.promotions] == [
        (2, "staging", "PROMOTED")
    ]
    assert [(a.version, a.alias, a.reason) for a in history.aliases] == [(2, "staging", "try it")]


def test_every_change_is_a_revision_with_its_history(backend: Backend, project: str) -> None:
    register(backend, project, versions=3)
    backend.promote(project, "churn/1", "production")
    canary = plan_variants("churn", "canary", version=1, canary="churn/2:10")
    ab = plan_variants("churn", "ab", ab="churn/1:30,churn/3:70")
    shadow = plan_variants("churn", "shadow", shadow="churn/3")
    first = backend.deploy(project, "churn", "production", "canary", canary, reason="try v2")
    second = backend.deploy(
        project, "churn", "production", "ab", ab, sticky_key="customer_id", reason="compare"
    )
    third = backend.deploy(project, "churn", "production", "shadow", shadow)
    assert [first.revision, second.revision, third.revision] == [1, 2, 3]
    assert second.sticky_key == "customer_id" and third.sticky_key is None

    current = backend.get_deployment(project, "churn", "production")
    assert current == third and current.strategy == "shadow"
    assert [(v.version, v.weight, v.mode) for v in current.variants] == [
        (None, 100.0, "live"),
        (3, 0.0, "shadow"),
    ]

    history = backend.deployment_history(project, "churn", "production")
    assert [r.revision for r in history] == [1, 2, 3]
    assert [r.strategy for r in history] == ["canary", "ab", "shadow"]
    assert [r.variants for r in history] == [following(p, 1) for p in (canary, ab, shadow)]
    assert [r.sticky_key for r in history] == [None, "customer_id", None]
    assert [r.reason for r in history] == ["try v2", "compare", ""]
    assert {r.created_by for r in history} == {"alice"}
    assert history[0].created_at <= history[1].created_at <= history[2].created_at
    assert backend.deployment_state(project, "churn", "production") == (3, 1)


def test_deployments_are_listed_by_model_and_environment(backend: Backend, project: str) -> None:
    assert backend.list_deployments(project) == []
    register(backend, project, "upsell", versions=1)
    register(backend, project, "churn", versions=2)
    pin = [Variant(version=1, weight=100.0)]
    backend.deploy(project, "upsell", "production", "single", pin)
    backend.deploy(project, "churn", "staging", "single", [Variant(version=2, weight=100.0)])
    backend.deploy(project, "churn", "production", "single", pin)
    backend.deploy(project, "churn", "production", "single", pin, reason="again")
    listed = backend.list_deployments(project)
    assert [(d.model, d.environment, d.revision) for d in listed] == [
        ("churn", "production", 2),
        ("churn", "staging", 1),
        ("upsell", "production", 1),
    ]
    assert {d.project for d in listed} == {project}
    assert listed[0] == backend.get_deployment(project, "churn", "production")


def test_bad_deployments_are_refused_and_change_nothing(backend: Backend, project: str) -> None:
    register(backend, project)
    with pytest.raises(NotFound, match="has no version 9"):
        backend.deploy(
            project,
            "churn",
            "staging",
            "canary",
            plan_variants("churn", "canary", version=1, canary="churn/9:10"),
        )
    with pytest.raises(NotFound, match="model 'ghost' does not exist"):
        backend.deploy(project, "ghost", "staging", "single", [Variant(version=1, weight=100)])
    with pytest.raises(InvalidInput, match=r"unknown environment 'prod'.*production"):
        backend.deploy(project, "churn", "prod", "single", [Variant(version=1, weight=100)])
    with pytest.raises(InvalidInput, match="unknown environment 'prod'"):
        backend.get_deployment(project, "churn", "prod")
    uneven = [Variant(version=1, weight=60.0), Variant(version=2, weight=30.0)]
    with pytest.raises(InvalidInput, match="shares must add up to 100%"):
        backend.deploy(project, "churn", "staging", "ab", uneven)
    only_shadow = [Variant(version=2, weight=0.0, mode="shadow")]
    with pytest.raises(InvalidInput, match="shares must add up to 100%"):
        backend.deploy(project, "churn", "staging", "shadow", only_shadow)
    with pytest.raises(InvalidInput, match="sticky-key must name a request field"):
        backend.deploy(
            project, "churn", "staging", "single", [Variant(version=1, weight=100)], sticky_key=" "
        )
    with pytest.raises(NotFound, match="project 'no-such-project' does not exist"):
        backend.deploy("no-such-project", "churn", "staging", "single", FOLLOW_ALIAS)
    assert backend.deployment_state(project, "churn", "staging") == (None, None)
    assert backend.list_deployments(project) == []
    assert backend.list_audit(entity_kind="deployment", entity_id=f"{project}/churn/staging") == []


def test_each_change_is_audited_with_before_and_after(backend: Backend, project: str) -> None:
    register(backend, project)
    single = [Variant(version=1, weight=100.0)]
    canary = plan_variants("churn", "canary", version=1, canary="churn/2:25")
    backend.deploy(project, "churn", "staging", "single", single)
    backend.deploy(project, "churn", "staging", "canary", canary)
    entries = backend.list_audit(entity_kind="deployment", entity_id=f"{project}/churn/staging")
    assert [e.action for e in entries] == ["deployment.update"] * 2
    assert {e.actor for e in entries} == {"alice"}
    newest, oldest = entries
    documents = [[v.model_dump() for v in following(p, 1)] for p in (single, canary)]
    assert oldest.before is None
    assert oldest.after == {"revision": 1, "strategy": "single", "variants": documents[0]}
    assert newest.before == {"revision": 1, "strategy": "single", "variants": documents[0]}
    assert newest.after == {"revision": 2, "strategy": "canary", "variants": documents[1]}


def test_outcomes_are_counted(backend: Backend, project: str) -> None:
    ids = [prediction_id() for _ in range(3)]
    assert backend.log_outcomes(project, ids, [1, 0.5, "yes"]) == 3
    assert backend.log_outcomes(project, ids[:1], [True], model="churn") == 1


@pytest.mark.parametrize(
    ("ids", "values", "words"),
    [
        (["abc"], [1], r"prediction_ids\[0\] = 'abc' is not a prediction id.*24 hex"),
        (["g" * 24], [1], "24 hex characters"),
        (["a" * 25], [1], "is not a prediction id"),
        (["a" * 24, "b" * 24], [1], "2 prediction ids but 1 values; give one value per id"),
        ([], [], "prediction_ids"),
        (["a" * 24], [None], "values"),
    ],
)
def test_bad_outcomes_are_refused(
    backend: Backend, project: str, ids: list[str], values: list[object], words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        backend.log_outcomes(project, ids, values)


def test_outcomes_of_an_unknown_project_are_refused(backend: Backend, project: str) -> None:
    with pytest.raises(NotFound, match=f"project '{project}-missing' does not exist"):
        backend.log_outcomes(f"{project}-missing", [prediction_id()], [1])
