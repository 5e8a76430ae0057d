"""The permission table: its rules, and the matrix docs/security.md prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relayml.domain.permissions import (
    ACTIONS,
    ADMIN_ONLY,
    ALL_ROLES,
    GRANTS,
    PUBLIC,
    SIGNED_IN,
    allowed,
    matrix_markdown,
    roles_allowed,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
READ_ONLY = {"project.read", "audit.read", "report.create"}  # a report reads the store


def test_the_docs_print_the_table_as_it_is() -> None:
    text = DOCS.read_text()
    found = re.search(r"<!-- matrix:start[^\n]*-->\n(.*?)\n<!-- matrix:end -->", text, re.S)
    assert found, "docs/security.md lost its matrix markers"
    assert found.group(1).strip() == matrix_markdown(), (
        "docs/security.md's matrix is stale: paste the output of `relay roles --markdown`"
    )


def test_only_the_risk_manager_approves_for_production_and_sets_risk_tiers() -> None:
    assert roles_allowed("promotion.production") == ["risk_manager"]
    assert roles_allowed("risk.write") == ["risk_manager"]


def test_auditors_and_viewers_change_nothing() -> None:
    assert GRANTS["auditor"] <= READ_ONLY
    assert GRANTS["viewer"] == {"project.read"}


def test_the_roles_own_their_areas() -> None:
    sme = GRANTS["subject_matter_expert"]
    assert {"project.kpis", "feedback.flag", "decisions.write"} <= sme
    assert {"data.write", "pipeline.run"} <= GRANTS["data_engineer"]
    assert {"deploy.write", "alerts.write"} <= GRANTS["devops"]
    assert "model.write" not in GRANTS["devops"] and "deploy.write" not in GRANTS["data_scientist"]


def test_every_action_is_granted_to_some_role_and_every_role_reads() -> None:
    granted = set().union(*GRANTS.values())
    assert granted == set(ACTIONS)
    assert all("project.read" in GRANTS[role] for role in ALL_ROLES)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_allowed_follows_the_table(role: str) -> None:
    for action in ACTIONS:
        assert allowed([role], action) == (action in GRANTS[role])
        assert allowed([role], action, admin=True)


def test_global_actions_and_unknown_ones() -> None:
    assert allowed([], PUBLIC) and allowed([], SIGNED_IN)
    assert not allowed(list(ALL_ROLES), ADMIN_ONLY)
    assert allowed([], ADMIN_ONLY, admin=True)
    with pytest.raises(KeyError):
        allowed(["owner"], "model.delete_everything")
