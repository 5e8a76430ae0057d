"""Model cards (intended use and limitations of a version) on SQLite, PostgreSQL and over HTTP:
set, kept per version, every change audited, earlier texts readable, shown in the report."""

from __future__ import annotations

import pytest

from relayml.domain.entities import AuditQuery
from relayml.domain.ports import Backend
from relayml.domain.reports import CARD_TEXT_LIMIT
from relayml.errors import InvalidInput, NotFound
from tests.integration.test_registry_contract import register


def test_a_card_is_set_per_version_audited_and_keeps_its_history(
    backend: Backend, project: str
) -> None:
    for content in (b"one", b"two"):
        register(backend, project, content)
    empty = backend.get_model_card(project, "churn/1")
    assert (empty.model, empty.version, empty.current, empty.history) == ("churn", 1, None, [])

    first = backend.set_model_card(project, "churn/1", intended_use="Rank customers for offers.")
    assert first.current is not None and first.current.intended_use == "Rank customers for offers."
    assert first.current.limitations == "" and first.current.set_by == backend.actor
    # one text at a time: the other is kept
    second = backend.set_model_card(project, "churn/1", limitations="  Not for pricing.  ")
    assert second.current is not None
    assert (second.current.intended_use, second.current.limitations) == (
        "Rank customers for offers.",
        "Not for pricing.",
    )
    assert [(t.intended_use, t.limitations) for t in second.history] == [
        ("Rank customers for offers.", ""),
        ("Rank customers for offers.", "Not for pricing."),
    ]
    assert second.history[-1] == second.current  # the current text is the newest of the history
    assert second.history[0].set_at <= second.current.set_at
    # the same text again changes nothing, so nothing is audited
    same = backend.set_model_card(project, "churn/1", limitations="Not for pricing.")
    assert len(same.history) == 2

    # per version: churn (the latest) is version 2, whose card is its own
    latest = backend.set_model_card(project, "churn", intended_use="Shadow tests only.")
    assert latest.version == 2 and len(latest.history) == 1
    assert backend.get_model_card(project, "churn/1").current == second.current

    # audited on the version, with the text before and after
    entries = backend.list_audit(AuditQuery(entity_id=f"{project}/churn/1", kind="model.set_card"))
    assert [e.action for e in entries] == ["model.set_card", "model.set_card"]
    newest = entries[0]
    assert newest.actor == backend.actor and newest.id == second.current.audit_id
    assert newest.before == {"intended_use": "Rank customers for offers.", "limitations": ""}
    assert newest.after == {
        "intended_use": "Rank customers for offers.",
        "limitations": "Not for pricing.",
    }
    assert entries[1].before is None

    # bad input is refused and nothing is half-written
    with pytest.raises(InvalidInput, match="say what to set"):
        backend.set_model_card(project, "churn/1")
    with pytest.raises(InvalidInput, match=f"keep it under {CARD_TEXT_LIMIT:,}"):
        backend.set_model_card(project, "churn/1", limitations="x" * (CARD_TEXT_LIMIT + 1))
    with pytest.raises(InvalidInput, match="needs some text"):
        backend.set_model_card(project, "churn/1", intended_use=" ", limitations="")
    with pytest.raises(NotFound):
        backend.set_model_card(project, "churn/9", intended_use="typo")
    with pytest.raises(NotFound):
        backend.get_model_card(project, "nope/1")
    # a card comes only through set_model_card (audited), never inside a new version's details
    v1 = backend.get_model_version(project, "churn/1")
    with pytest.raises(InvalidInput, match=r"details\['card'\] is reserved"):
        backend.create_model_version(
            project, "churn", flavor="sklearn", files=v1.files, signature=v1.signature,
            requirements=[], details={"card": {"intended_use": "forged", "set_by": "rita"}},
        )  # fmt: skip
    assert [v.version for v in backend.list_model_versions(project, "churn")] == [2, 1]
    assert backend.get_model_card(project, "churn/1") == second

    # the report shows the current text, who set it when, and the earlier text
    report = backend.build_model_report(project, "churn", version=1, fmt="md")
    text = " ".join(report.content.split())
    assert "Intended use: Rank customers for offers." in text
    assert "Limitations: Not for pricing." in text
    assert f"Set by {backend.actor} on " in text and "2 text(s) so far" in text
    assert "| earlier text set | by | intended use | limitations |" in report.content
    assert "model.set_card" in text  # in the change log too
    untouched = backend.build_model_report(project, "churn", version=1, fmt="md")
    assert untouched.fingerprint == report.fingerprint
    backend.set_model_card(project, "churn/1", limitations="Not for pricing or credit.")
    changed = backend.build_model_report(project, "churn", version=1, fmt="md")
    assert changed.fingerprint != report.fingerprint  # the card is one of the report's inputs
