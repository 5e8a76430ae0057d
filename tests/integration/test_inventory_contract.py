"""The inventory, risk tiers, retirement and reports on SQLite, PostgreSQL and over HTTP."""

from __future__ import annotations

import pytest

from relayml.domain.ports import Backend
from relayml.errors import Conflict, InvalidInput, NotFound
from tests.integration.test_registry_contract import evaluate, register


def _entry(backend: Backend, project: str, model: str = "churn") -> object:
    found = [e for e in backend.inventory([project]) if e.model == model]
    assert len(found) == 1, found
    return found[0]


def test_inventory_follows_promotions_a_rollback_and_a_retirement(
    backend: Backend, project: str
) -> None:
    for content in (b"one", b"two"):
        register(backend, project, content)
    register(backend, project, b"draft", name="draft")  # never promoted: not in the inventory
    evaluate(backend, project, "churn/1", 0.8)
    assert backend.inventory([project]) == []
    with pytest.raises(InvalidInput, match="never been in staging or production"):
        backend.set_risk_tier(project, "churn", "high", "why")
    for ref, env in (("churn/1", "staging"), ("churn/1", "production"), ("churn/2", "staging"),
                     ("churn/2", "production"), ("churn/1", "production")):  # fmt: skip
        assert backend.promote(project, ref, env).status == "PROMOTED"
    entry = _entry(backend, project)
    assert entry.status == "production"  # type: ignore[attr-defined]
    assert entry.environments == {"staging": 2, "production": 1}  # type: ignore[attr-defined]
    stretches = [(s.environment, s.version, s.until is None) for s in entry.served]  # type: ignore[attr-defined]
    assert stretches == [
        ("staging", 1, False), ("production", 1, False), ("staging", 2, True),
        ("production", 2, False), ("production", 1, True),
    ]  # fmt: skip
    assert [e.model for e in backend.inventory([project])] == ["churn"]

    tiered = backend.set_risk_tier(project, "churn", "medium", "internal use")
    assert (tiered.risk_tier, tiered.risk_tier_reason) == ("medium", "internal use")
    assert tiered.next_review_due is not None and tiered.last_validation is not None
    assert (tiered.next_review_due - tiered.last_validation).days == 180
    # the project's policy sets its own cadence per tier; tiers it does not name keep the default
    backend.set_policy(project, "review: {medium: 30, high: 14}")
    assert (_entry(backend, project).next_review_due - tiered.last_validation).days == 30  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match=r"review\.weekly"):
        backend.set_policy(project, "review: {weekly: 7}")
    with pytest.raises(InvalidInput, match=r"review\.high"):
        backend.set_policy(project, "review: {high: 0}")

    retired = backend.retire_model(project, "churn", "replaced")
    assert retired.status == "retired" and retired.environments == {}
    assert all(s.until is not None for s in retired.served)
    assert backend.get_model(project, "churn").aliases == {}
    with pytest.raises(Conflict, match="already retired"):
        backend.retire_model(project, "churn", "again")
    with pytest.raises(NotFound):
        backend.retire_model(project, "nope", "typo")
    with pytest.raises(NotFound):
        backend.inventory(["no-such-project"])

    report = backend.build_model_report(project, "churn", fmt="md")
    assert report.version == 2  # nothing is in an environment: the newest version
    assert "The model is retired: replaced" in report.content
    assert "Version 2 has been in production." in report.content
    first = backend.build_model_report(project, "churn", version=1, fmt="html")
    assert first.version == 1 and first.content.startswith("<!DOCTYPE html>")
    assert first.fingerprint != report.fingerprint  # another version, other facts
    never = backend.build_model_report(project, "draft", fmt="md")
    assert "Version 1 was never in production (it has been in: no environment)." in never.content
