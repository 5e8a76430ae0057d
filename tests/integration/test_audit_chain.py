"""The audit chain on SQLite and PostgreSQL: each tamper made with raw SQL on the database is
found by `verify`, which names the first entry concerned; a rewrite of the whole tail is caught
only with a signed checkpoint, whose key must be the server's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.audit_chain import GENESIS, AuditCheckpoint, entry_hash
from relayml.governance import keys

ENTRIES = 12  # one project and eleven experiments


@pytest.fixture(params=["sqlite", "postgresql"])
def chained(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalBackend]:
    """A backend whose audit log holds ENTRIES chained entries."""
    args: dict[str, Any] = {"home": tmp_path / "home", "user": "ada"}
    if request.param == "postgresql":
        args["database_url"] = request.getfixturevalue("store_url_pg")
    backend = LocalBackend(get_settings(**args))
    backend.create_project("churn", business_question="who leaves?")
    for n in range(ENTRIES - 1):
        backend.create_experiment("churn", f"e{n}", description=f"try {n}")
    try:
        yield backend
    finally:
        backend.close()


def sql(backend: LocalBackend, statement: str, **params: Any) -> None:
    """Run raw SQL on the backend's database, as someone with database access would."""
    with backend.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def rows(backend: LocalBackend) -> list[dict[str, Any]]:
    """Every audit entry in id order, decoded."""
    with backend.store.read() as conn:
        found = conn.execute(text("SELECT * FROM audit_log ORDER BY id")).mappings().all()
    return [
        {
            **dict(row),
            "before": json.loads(row["before"])
            if isinstance(row["before"], str)
            else row["before"],
            "after": json.loads(row["after"]) if isinstance(row["after"], str) else row["after"],
        }
        for row in found
    ]


def insert(
    backend: LocalBackend, entry_id: int, fields: dict[str, Any], hashed: str | None
) -> None:
    sql(
        backend,
        'INSERT INTO audit_log (id, at, actor, action, entity_kind, entity_id, "before", "after", '
        "hash) VALUES (:id, :at, :actor, :action, :kind, :eid, :before, :after, :hash)",
        id=entry_id,
        at=fields["at"],
        actor=fields["actor"],
        action=fields["action"],
        kind=fields["entity_kind"],
        eid=fields["entity_id"],
        before=None if fields["before"] is None else json.dumps(fields["before"]),
        after=None if fields["after"] is None else json.dumps(fields["after"]),
        hash=hashed,
    )


def test_an_untouched_chain_verifies_and_every_hash_is_recomputable(chained: LocalBackend) -> None:
    result = chained.verify_audit()
    assert result.ok and result.problem is None, result.message
    assert result.entries == ENTRIES and result.head_entry_id == ENTRIES
    previous = GENESIS
    for row in rows(chained):
        previous = entry_hash(previous, row)
        assert row["hash"] == previous
    assert result.head_hash == previous


def test_an_edited_entry_is_named(chained: LocalBackend) -> None:
    sql(chained, 'UPDATE audit_log SET "after" = :after WHERE id = 5', after='{"name": "forged"}')
    result = chained.verify_audit()
    assert not result.ok
    assert (result.problem, result.entry_id) == ("changed", 5)
    assert "entry 5 was changed after it was written" in result.message


def test_an_edited_actor_of_the_last_entry_is_named(chained: LocalBackend) -> None:
    sql(chained, "UPDATE audit_log SET actor = 'mallory' WHERE id = :id", id=ENTRIES)
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("changed", ENTRIES)


def test_a_deleted_middle_entry_is_named_by_the_entry_after_it(chained: LocalBackend) -> None:
    sql(chained, "DELETE FROM audit_log WHERE id = 7")
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("missing", 8)
    assert "the entry before 8 is missing" in result.message


def test_deleted_last_entries_are_found_against_the_head(chained: LocalBackend) -> None:
    sql(chained, "DELETE FROM audit_log WHERE id > :keep", keep=ENTRIES - 2)
    result = chained.verify_audit()
    assert result.problem == "truncated" and result.entry_id == ENTRIES
    assert f"the head says {ENTRIES} but the log ends at {ENTRIES - 2}" in result.message


def _make_room(backend: LocalBackend, after: int) -> None:
    """Move the entries after `after` up by 1000 ids (the chain does not cover ids)."""
    sql(backend, "UPDATE audit_log SET id = id + 1000 WHERE id > :after", after=after)
    sql(backend, "UPDATE audit_head SET entry_id = entry_id + 1000")
    assert backend.verify_audit().ok


def test_an_entry_inserted_without_a_hash_is_named(chained: LocalBackend) -> None:
    _make_room(chained, 6)
    forged = {**rows(chained)[2], "actor": "mallory"}
    insert(chained, 7, forged, None)
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("inserted", 7)


def test_an_entry_inserted_with_a_forged_valid_hash_is_named(chained: LocalBackend) -> None:
    _make_room(chained, 6)
    before = rows(chained)
    forged = {**before[2], "actor": "mallory", "action": "model.approve"}
    insert(chained, 7, forged, entry_hash(before[5]["hash"], forged))
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("inserted", 7), result.message
    assert "entry 7 was inserted" in result.message


def test_an_entry_appended_after_the_head_is_named(chained: LocalBackend) -> None:
    last = rows(chained)[-1]
    forged = {**last, "actor": "mallory"}
    insert(chained, ENTRIES + 1, forged, entry_hash(last["hash"], forged))
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("appended", ENTRIES + 1)


def test_two_entries_with_swapped_contents_name_the_first(chained: LocalBackend) -> None:
    entries = {row["id"]: row for row in rows(chained)}
    for target, source in ((4, 9), (9, 4)):
        sql(
            chained,
            'UPDATE audit_log SET actor = :actor, action = :action, entity_id = :eid, "after" = '
            ":after, at = :at WHERE id = :id",
            actor=entries[source]["actor"],
            action=entries[source]["action"],
            eid=entries[source]["entity_id"],
            after=json.dumps(entries[source]["after"]),
            at=entries[source]["at"],
            id=target,
        )
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("changed", 4)


def test_two_adjacent_rows_swapped_whole_are_named_as_reordered(chained: LocalBackend) -> None:
    sql(chained, "UPDATE audit_log SET id = -1 WHERE id = 4")
    sql(chained, "UPDATE audit_log SET id = 4 WHERE id = 5")
    sql(chained, "UPDATE audit_log SET id = 5 WHERE id = -1")
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("reordered", 4)


def _rewrite_tail(backend: LocalBackend, first: int, *, drop_checkpoints: bool = True) -> None:
    """Change entry `first` and recompute every hash after it, head included; drop the stored
    checkpoints too (they are in the same database), unless told not to."""
    if drop_checkpoints:
        sql(backend, "DELETE FROM audit_checkpoints")
    sql(backend, "UPDATE audit_log SET actor = 'mallory' WHERE id = :id", id=first)
    previous = GENESIS
    for row in rows(backend):
        previous = entry_hash(previous, row)
        if row["id"] >= first:
            sql(backend, "UPDATE audit_log SET hash = :h WHERE id = :id", h=previous, id=row["id"])
    sql(backend, "UPDATE audit_head SET hash = :h", h=previous)


def test_a_rewritten_tail_is_caught_only_with_a_checkpoint(
    chained: LocalBackend, tmp_path: Path
) -> None:
    signed = chained.create_audit_checkpoint()
    assert signed.entry_id == ENTRIES and signed.public_key.startswith("-----BEGIN PUBLIC KEY")
    assert chained.verify_audit(signed).ok
    _rewrite_tail(chained, 6)
    assert chained.verify_audit().ok  # every hash was recomputed: the chain alone cannot tell
    result = chained.verify_audit(signed)
    assert (result.problem, result.entry_id) == ("checkpoint", ENTRIES)
    assert "the log was rewritten" in result.message
    assert chained.list_audit_checkpoints() == []  # dropped by whoever rewrote the tail


def test_entries_deleted_at_the_end_with_the_head_moved_back_are_caught_by_a_checkpoint(
    chained: LocalBackend,
) -> None:
    signed = chained.create_audit_checkpoint()
    kept = rows(chained)[ENTRIES - 3]
    assert chained.verify_audit().ok
    sql(chained, "DELETE FROM audit_checkpoints")
    sql(chained, "DELETE FROM audit_log WHERE id > :id", id=kept["id"])
    sql(chained, "UPDATE audit_head SET entry_id = :id, hash = :h", id=kept["id"], h=kept["hash"])
    assert chained.verify_audit().ok
    result = chained.verify_audit(signed)
    assert (result.problem, result.entry_id) == ("checkpoint", ENTRIES)
    assert "is gone" in result.message


def test_the_stored_checkpoints_catch_a_rewritten_tail_left_in_the_database(
    chained: LocalBackend,
) -> None:
    early = chained.create_audit_checkpoint()
    chained.create_experiment("churn", "later")
    chained.create_audit_checkpoint()
    _rewrite_tail(chained, ENTRIES + 1, drop_checkpoints=False)
    result = chained.verify_audit()
    assert (result.problem, result.entry_id) == ("checkpoint", ENTRIES + 1)
    assert "stored checkpoint" in result.message and "the log was rewritten" in result.message
    assert early.entry_id == ENTRIES  # the earlier one still matches: the rewrite came after it


def test_a_forged_stored_checkpoint_is_refused(chained: LocalBackend) -> None:
    made = chained.create_audit_checkpoint()
    _rewrite_tail(chained, 4, drop_checkpoints=False)
    recomputed = rows(chained)[-1]["hash"]
    sql(chained, "UPDATE audit_checkpoints SET hash = :h WHERE id = :id", h=recomputed, id=made.id)
    result = chained.verify_audit()
    assert not result.ok and result.problem == "checkpoint"
    assert f"stored checkpoint {made.id}" in result.message and "forged or edited" in result.message


def test_stored_checkpoints_are_not_checked_without_the_server_key(chained: LocalBackend) -> None:
    chained.create_audit_checkpoint()
    chained.settings.resolved_audit_key_file.unlink()
    result = chained.verify_audit()
    assert result.ok and "not checked: no server key" in result.notes[0]


def test_a_checkpoint_signed_with_another_key_is_refused(
    chained: LocalBackend, tmp_path: Path
) -> None:
    signed = chained.create_audit_checkpoint()
    _rewrite_tail(chained, 3)
    head = chained.verify_audit()
    other = keys.load_or_create_key(tmp_path / "other.pem")
    from relayml.domain.audit_chain import checkpoint_message

    kid = keys.key_id(other)
    forged = AuditCheckpoint(
        entry_id=head.head_entry_id,
        hash=head.head_hash,
        at=signed.at,
        key_id=kid,
        signature=keys.sign(
            other, checkpoint_message(head.head_entry_id, head.head_hash, signed.at, kid)
        ),
        public_key=keys.public_pem(other),
    )
    result = chained.verify_audit(forged)
    assert not result.ok and result.problem == "checkpoint"
    assert "not by this server's key" in result.message
    # with that key declared trusted, it is accepted: the key, not the file, decides
    assert chained.verify_audit(forged, public_key=keys.public_pem(other)).ok
    # and the server's own checkpoint against a different trusted key is refused
    refused = chained.verify_audit(signed, public_key=keys.public_pem(other))
    assert not refused.ok and "--public-key" in refused.message


def test_an_edited_checkpoint_file_is_refused(chained: LocalBackend) -> None:
    signed = chained.create_audit_checkpoint()
    _rewrite_tail(chained, 3)
    recomputed = chained.verify_audit().head_hash
    edited = signed.model_copy(update={"hash": recomputed})
    result = chained.verify_audit(edited)
    assert not result.ok and "signature does not verify" in result.message


def test_checkpoints_are_listed_newest_first_with_the_server_key(chained: LocalBackend) -> None:
    first = chained.create_audit_checkpoint()
    chained.create_experiment("churn", "later")
    second = chained.create_audit_checkpoint()
    listed = chained.list_audit_checkpoints()
    assert [c.id for c in listed] == [second.id, first.id]
    assert listed[0].entry_id == ENTRIES + 1 and listed[0].public_key == second.public_key
    assert chained.verify_audit(listed[1]).ok  # a stored checkpoint verifies like an exported one
    key_file = chained.settings.resolved_audit_key_file
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_a_missing_head_stops_audited_writes_with_a_message(chained: LocalBackend) -> None:
    from relayml.errors import StoreNotReady

    sql(chained, "DELETE FROM audit_head")
    assert chained.verify_audit().problem == "head"
    with pytest.raises(StoreNotReady, match="audit chain's head"):
        chained.create_experiment("churn", "blocked")
    assert [e.name for e in chained.list_experiments("churn")].count("blocked") == 0


def test_export_streams_every_matching_entry_with_its_hash(chained: LocalBackend) -> None:
    every = list(chained.export_audit())
    assert [e["id"] for e in every] == list(range(1, ENTRIES + 1))
    previous = GENESIS
    for entry in every:  # an export can be checked without relayml's database
        previous = entry_hash(previous, entry)
        assert entry["hash"] == previous
    some = list(chained.export_audit(entity_kind="experiment", entity_id="churn/e3"))
    assert [e["entity_id"] for e in some] == ["churn/e3"]
    assert list(chained.export_audit(actor="nobody")) == []


@pytest.mark.parametrize("head", ["0006", "0007"])
def test_a_database_from_before_the_chain_or_of_its_release_verifies(
    tmp_path: Path, head: str
) -> None:
    """0006 was chained by migration 0007; 0007's entries were chained as they were written."""
    import shutil

    old = Path(__file__).resolve().parents[1] / "fixtures" / "migrations" / f"{head}.db"
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(old, home / "relay.db")
    backend = LocalBackend(get_settings(home=home, user="ada"))
    try:
        assert backend.store.revision_at_open == head
        result = backend.verify_audit()
        assert result.ok and result.entries > 10, result.message
        backend.create_experiment("churn", "after-the-upgrade")
        after = backend.verify_audit()
        assert after.ok and after.entries == result.entries + 1
        assert after.head_entry_id > result.head_entry_id
    finally:
        backend.close()
