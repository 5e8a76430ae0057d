"""No path around the gates (issue #12, item 5): every way a version can answer an
environment's traffic goes through its policy; production approvals come from the right person.
SQLite, PostgreSQL and HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from relayml.backend import LocalBackend
from relayml.deployments.promote import promote_winner
from relayml.domain.ports import Backend
from relayml.domain.serving import Variant, plan_variants
from relayml.errors import GateFailed, InvalidInput, PermissionDenied
from relayml.identity import users
from relayml.predictions import PredictionLogs
from tests.integration.test_registry_contract import POLICY, approve_as, evaluate, register

FOLLOW = [Variant(version=None, weight=100.0)]

CANARY_POLICY = """
environments:
  production:
    requires: [staging]
    approvals: [{role: risk_manager}]
    canary:
      requires: [staging]
      approvals: [{role: devops}]
      max_weight: 20
    shadow:
      requires: [staging]
"""


def in_production(backend: Backend, project: str) -> tuple[int | None, int | None]:
    """(deployment revision, version holding production): the registry's side of the story."""
    holder = backend.get_model(project, "churn").aliases.get("production")
    assert backend.get_model_version(project, "churn@production").version == holder
    return backend.deployment_state(project, "churn", "production")[0], holder


def three_versions_v3_in_production(backend: Backend, project: str) -> None:
    """The user's story: v1, v2 (bad) and v3 (good, staged, approved, deployed)."""
    backend.set_policy(project, POLICY)
    backend.add_member(project, "rita", "risk_manager")
    for content, auc in ((b"v1", 0.8), (b"v2", 0.6), (b"v3", 0.8)):
        number = register(backend, project, content)
        evaluate(backend, project, f"churn/{number}", auc=auc)
    backend.promote(project, "churn/3", "staging")
    backend.promote(project, "churn/3", "production")
    approve_as(backend, "rita", project, "churn/3", "production")
    backend.deploy(project, "churn", "production", "single", FOLLOW)
    assert in_production(backend, project) == (1, 3)


def test_a_version_that_failed_its_gates_never_answers_production(
    backend: Backend, project: str, tmp_path: Path
) -> None:
    three_versions_v3_in_production(backend, project)
    with pytest.raises(GateFailed) as refused:
        backend.deploy(project, "churn", "production", "single", [Variant(version=2, weight=100)])
    said = str(refused.value)
    assert "churn/2 may not serve production" in said
    assert "3 of 4 production gates failed" in said
    assert "passed through staging: churn/2 has never been in staging" in said
    assert "`relay models promote churn/2 --to staging`" in said
    assert in_production(backend, project) == (1, 3)
    assert backend.get_deployment(project, "churn", "production").variants == FOLLOW
    attempts = backend.model_history(project, "churn").promotions
    assert [(p.version, p.status) for p in attempts if p.version == 2] == [(2, "FAILED")]

    for strategy, variants in (
        ("canary", plan_variants("churn", "canary", canary="churn/2:10")),
        ("canary", plan_variants("churn", "canary", version=3, canary="churn/2:10")),
        ("ab", plan_variants("churn", "ab", ab="churn/3:50,churn/2:50")),
        ("ab", plan_variants("churn", "ab", ab="churn/2:50,churn/3:50")),
    ):
        with pytest.raises(GateFailed, match=r"sets no `canary` rule.*churn/2 may not be a canary"):
            backend.deploy(project, "churn", "production", strategy, variants)  # type: ignore[arg-type]
    with pytest.raises(GateFailed, match="did not pass the production gates"):
        promote_winner(
            backend, PredictionLogs(str(tmp_path / "logs")), project, "churn", "production",
            version=2,
        )  # fmt: skip
    assert in_production(backend, project) == (1, 3)
    # a shadow answers no one: without a shadow rule in the policy, it is allowed
    shadow = backend.deploy(
        project, "churn", "production", "shadow", plan_variants("churn", "shadow", shadow="churn/2")
    )
    assert [(v.version, v.mode) for v in shadow.variants] == [(None, "live"), (2, "shadow")]
    assert in_production(backend, project) == (2, 3)


def test_a_version_never_approved_waits_and_then_serves(backend: Backend, project: str) -> None:
    three_versions_v3_in_production(backend, project)
    register(backend, project, b"v4")
    evaluate(backend, project, "churn/4", auc=0.85)
    backend.promote(project, "churn/4", "staging")
    with pytest.raises(GateFailed) as waiting:
        backend.deploy(project, "churn", "production", "single", [Variant(version=4, weight=100)])
    said = str(waiting.value)
    assert "churn/4 passed the production gates and waits for approval by risk_manager" in said
    assert "`relay models approve churn/4 --env production`" in said
    assert in_production(backend, project) == (1, 3)
    done = approve_as(backend, "rita", project, "churn/4", "production")
    assert done.status == "PROMOTED"
    assert in_production(backend, project) == (1, 4), "the deployment follows the alias"


def test_production_approvals_come_from_a_risk_manager_who_is_not_the_author(
    backend: Backend, project: str
) -> None:
    backend.set_policy(project, "environments: {production: {approvals: [{role: owner}]}}")
    register(backend, project, b"v1")  # logged by alice
    backend.add_member(project, "alice", "risk_manager")
    backend.add_member(project, "dave", "data_scientist")
    backend.add_member(project, "olga", "owner")
    assert backend.promote(project, "churn/1", "production").status == "PENDING_APPROVAL"
    with pytest.raises(PermissionDenied, match="alice logged churn/1 and so may not approve or"):
        backend.decide_promotion(project, "churn/1", "production", "approve")
    with pytest.raises(PermissionDenied, match="alice logged churn/1"):
        backend.decide_promotion(project, "churn/1", "production", "reject")
    for user in ("dave", "olga"):  # the policy names owner; production needs risk_manager too
        with pytest.raises(PermissionDenied, match=f"{user} may not approve or reject a promo"):
            approve_as(backend, user, project, "churn/1", "production")
    refused = backend.list_audit(kind="promotion.refused", entity_id=f"{project}/churn/1")
    assert sorted((e.actor, e.after["decision"]) for e in refused) == [  # type: ignore[index]
        ("alice", "approve"),
        ("alice", "reject"),
        ("dave", "approve"),
        ("olga", "approve"),
    ]
    assert all(
        "needs the role risk_manager" in e.after["why"] for e in refused if e.actor != "alice"
    )  # type: ignore[index]
    assert backend.model_history(project, "churn").promotions[0].approvals == []
    assert backend.get_model(project, "churn").aliases == {}
    backend.add_member(project, "olga", "risk_manager")
    assert approve_as(backend, "olga", project, "churn/1", "production").status == "PROMOTED"


def test_a_canary_rule_admits_a_devops_approved_canary(backend: Backend, project: str) -> None:
    backend.set_policy(project, CANARY_POLICY)
    for user, role in (("rita", "risk_manager"), ("dan", "devops")):
        backend.add_member(project, user, role)
    for content in (b"v1", b"v2", b"v3"):
        register(backend, project, content)
    for version in (1, 2):
        backend.promote(project, f"churn/{version}", "staging")
    backend.promote(project, "churn/1", "production")
    approve_as(backend, "rita", project, "churn/1", "production")
    canary = plan_variants("churn", "canary", canary="churn/2:10")
    with pytest.raises(GateFailed) as uncleared:
        backend.deploy(project, "churn", "production", "canary", canary)
    said = str(uncleared.value)
    assert "churn/2 does not hold production and may not be a canary there" in said
    assert "it has not been cleared by devops" in said
    assert "`relay models promote churn/2 --to production --canary`" in said

    asked = backend.promote(project, "churn/2", "production:canary", "try it on 10%")
    assert asked.status == "PENDING_APPROVAL" and asked.waiting_for == ["devops"]
    with pytest.raises(PermissionDenied, match="alice logged churn/2"):
        backend.decide_promotion(project, "churn/2", "production:canary", "approve")
    cleared = approve_as(backend, "dan", project, "churn/2", "production:canary")
    assert cleared.status == "PROMOTED" and cleared.approvals[0].role == "devops"
    assert in_production(backend, project) == (None, 1), "a clearance moves no alias"

    too_much = plan_variants("churn", "canary", canary="churn/2:30")
    with pytest.raises(GateFailed, match=r"take 30% of the traffic, and a canary takes 20%"):
        backend.deploy(project, "churn", "production", "canary", too_much)
    deployed = backend.deploy(project, "churn", "production", "canary", canary)
    assert [(v.version, v.weight) for v in deployed.variants] == [(None, 90.0), (2, 10.0)]
    assert in_production(backend, project) == (1, 1)

    with pytest.raises(GateFailed, match="churn/3 has never been in staging"):
        backend.deploy(
            project, "churn", "production", "canary",
            plan_variants("churn", "canary", canary="churn/3:10"),
        )  # fmt: skip
    shadow = plan_variants("churn", "shadow", shadow="churn/3")
    with pytest.raises(GateFailed, match="churn/3 does not hold production and may not be a shado"):
        backend.deploy(project, "churn", "production", "shadow", shadow)
    backend.promote(project, "churn/3", "staging")
    assert backend.deploy(project, "churn", "production", "shadow", shadow).revision == 2

    # promoting the canary's version folds its variant into the alias's: served once
    backend.deploy(project, "churn", "production", "canary", canary)
    backend.promote(project, "churn/2", "production")
    approve_as(backend, "rita", project, "churn/2", "production")
    folded = backend.get_deployment(project, "churn", "production")
    assert folded.strategy == "single" and folded.variants == FOLLOW
    assert folded.reason == "churn/2 now holds production: its variant follows the production alias"
    assert in_production(backend, project) == (4, 2)


def test_staging_rules_apply_to_deployments_in_staging(backend: Backend, project: str) -> None:
    backend.set_policy(project, "environments: {staging: {approvals: [{role: devops}]}}")
    register(backend, project, b"v1")
    with pytest.raises(GateFailed, match="waits for approval by devops"):
        backend.deploy(project, "churn", "staging", "single", [Variant(version=1, weight=100)])
    assert backend.deployment_state(project, "churn", "staging") == (None, None)


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("environments: {production: {canary: {requires: [qa]}}}", "canary.requires names 'qa'"),
        ("environments: {production: {canary: {max_weight: 100}}}", "max_weight"),
        ("environments: {production: {shadow: {max_weight: 10}}}", "a shadow answers no one"),
        ("environments: {production: {canary: {checks: [{metric: auc}]}}}", "needs min, max"),
        ("environments: {production: {canary: {share: 3}}}", "policy entry"),
    ],
)
def test_bad_canary_and_shadow_rules_are_refused(
    backend: Backend, project: str, source: str, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        backend.set_policy(project, source)


def test_a_stage_the_policy_does_not_declare_cannot_be_requested(
    backend: Backend, project: str
) -> None:
    backend.set_policy(project, POLICY)
    register(backend, project, b"v1")
    with pytest.raises(GateFailed, match="sets no `canary` rule"):
        backend.promote(project, "churn/1", "production:canary")
    with pytest.raises(InvalidInput, match="after the environment comes canary or shadow"):
        backend.promote(project, "churn/1", "production:blue")


# In-process only: it makes administrators and disables one through the store (over HTTP a
# disabled user's token fails with 401 before any approval rule is asked).
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_an_administrator_skips_roles_but_not_the_author_rule(
    backend: Backend, project: str
) -> None:
    assert isinstance(backend, LocalBackend)
    for name in ("alice", "ada"):
        users.add_user(backend.store, "root", name, admin=True)
    backend.set_policy(project, POLICY.replace("requires: [staging]", "requires: []"))
    register(backend, project, b"v1")
    evaluate(backend, project, "churn/1", auc=0.8)
    assert backend.promote(project, "churn/1", "production").status == "PENDING_APPROVAL"
    with pytest.raises(PermissionDenied, match="alice logged churn/1"):
        backend.decide_promotion(project, "churn/1", "production", "approve")
    done = backend.with_actor("ada").decide_promotion(project, "churn/1", "production", "approve")
    assert done.status == "PROMOTED" and done.approvals[0].role == "risk_manager"
    users.disable_user(backend.store, "root", "ada")
    register(backend, project, b"v2")
    evaluate(backend, project, "churn/2", auc=0.8)
    backend.promote(project, "churn/2", "production")
    with pytest.raises(PermissionDenied, match="ada may not approve or reject"):
        backend.with_actor("ada").decide_promotion(project, "churn/2", "production", "approve")
