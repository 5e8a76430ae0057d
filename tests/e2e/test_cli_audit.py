"""`relay audit`: the listing and its filters, verify (exit 1 naming the entry), checkpoint files,
export to JSON Lines; usage and file mistakes get a message, not a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings
from relayml.governance import keys

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An embedded store with a project, three experiments by two people, and a run."""
    where = tmp_path / "home"
    backend = LocalBackend(get_settings(home=where, user="ada"))
    backend.create_project("churn")
    backend.create_experiment("churn", "base")
    backend.with_actor("bob").create_experiment("churn", "deep")
    backend.with_actor("bob").create_experiment("churn", "wide")
    backend.close()
    return where


def relay(home: Path, *args: str) -> Result:
    env = {"RELAY_HOME": str(home), "RELAY_USER": "ada", "RELAY_SERVER_URL": "", "COLUMNS": "250"}
    return runner.invoke(app, list(args), env=env)


def test_the_listing_keeps_its_flags_and_gains_entity(home: Path) -> None:
    result = relay(home, "audit", "-n", "2", "--actor", "bob", "--kind", "experiment")
    assert result.exit_code == 0, result.output
    assert "churn/wide" in result.stdout and "churn/deep" in result.stdout
    assert "Older entries may match: add --before 3" in result.stdout
    older = json.loads(relay(home, "audit", "--before", "3", "--json").stdout)
    assert [e["id"] for e in older] == [2, 1]
    one = json.loads(relay(home, "audit", "--entity", "experiment:churn/deep", "--json").stdout)
    assert [e["entity_id"] for e in one] == ["churn/deep"]
    kinds = json.loads(relay(home, "audit", "-e", "project", "--json").stdout)
    assert [e["entity_kind"] for e in kinds] == ["project"]
    timed = relay(home, "audit", "--since", "7d", "--until", "2999-01-01", "--json")
    assert len(json.loads(timed.stdout)) == 4
    assert "No audit entries match." in relay(home, "audit", "--actor", "nobody").stdout


def test_usage_mistakes_exit_2_with_a_message(home: Path) -> None:
    bad = relay(home, "audit", "--entity", ":x")
    assert bad.exit_code == 2 and "names no kind" in bad.output
    both = relay(home, "audit", "--entity", "run:a", "--id", "b")
    assert both.exit_code == 2 and "give the id once" in both.output
    assert relay(home, "audit", "--since", "yesterday").exit_code == 2


def test_verify_says_ok_then_names_the_changed_entry_with_exit_1(home: Path) -> None:
    good = relay(home, "audit", "verify")
    assert good.exit_code == 0, good.output
    assert good.stdout.startswith("OK: the audit chain is intact: 4 entries, head entry 4, hash ")
    with sqlite3.connect(home / "relay.db") as db:
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    bad = relay(home, "audit", "verify")
    assert bad.exit_code == 1
    assert "entry 3 was changed after it was written" in bad.stderr
    assert "Traceback" not in bad.output
    as_json = json.loads(relay(home, "audit", "verify", "--json").stdout)
    assert (as_json["ok"], as_json["entry_id"], as_json["problem"]) == (False, 3, "changed")


def test_a_checkpoint_file_catches_a_rewritten_tail(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "head.json"
    made = relay(home, "audit", "checkpoint", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert f"written to {out}" in made.stdout
    signed = json.loads(out.read_text())
    assert signed["entry_id"] == 4 and "BEGIN PUBLIC KEY" in signed["public_key"]
    assert relay(home, "audit", "verify", "--checkpoint", str(out)).exit_code == 0
    listed = relay(home, "audit", "checkpoints")
    assert listed.exit_code == 0 and signed["hash"][:16] in listed.stdout
    # drop the last entry and move the head back: the chain alone still verifies
    with sqlite3.connect(home / "relay.db") as db:
        db.execute("DELETE FROM audit_checkpoints")
        db.execute("DELETE FROM audit_log WHERE id = 4")
        (kept,) = db.execute("SELECT hash FROM audit_log WHERE id = 3").fetchone()
        db.execute("UPDATE audit_head SET entry_id = 3, hash = ?", (kept,))
    assert relay(home, "audit", "verify").exit_code == 0
    caught = relay(home, "audit", "verify", "--checkpoint", str(out))
    assert caught.exit_code == 1 and "entry 4" in caught.stderr


def test_a_checkpoint_must_be_signed_by_the_server_or_the_given_key(
    home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "head.json"
    assert relay(home, "audit", "checkpoint", "--out", str(out)).exit_code == 0
    other = tmp_path / "other.pub"
    other.write_text(keys.public_pem(keys.load_or_create_key(tmp_path / "other.pem")))
    refused = relay(home, "audit", "verify", "--checkpoint", str(out), "--public-key", str(other))
    assert refused.exit_code == 1 and "not by the key given with --public-key" in refused.stderr
    server_key = keys.public_pem(keys.load_or_create_key(home / "audit-ed25519.pem"))
    given = relay(home, "audit", "verify", "--checkpoint", str(out), "--public-key", server_key)
    assert given.exit_code == 0, given.output
    (tmp_path / "junk.json").write_text('{"entry_id": "x"}')
    junk = relay(home, "audit", "verify", "--checkpoint", str(tmp_path / "junk.json"))
    assert junk.exit_code == 1 and "is not a checkpoint file" in junk.stderr


def test_export_writes_json_lines_with_hashes(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    done = relay(home, "audit", "export", "--out", str(out), "--actor", "bob")
    assert done.exit_code == 0 and "Wrote 2 audit entries" in done.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["id"], e["entity_id"]) for e in lines] == [(3, "churn/deep"), (4, "churn/wide")]
    assert all(len(e["hash"]) == 64 for e in lines)
    to_stdout = relay(home, "audit", "export", "--entity", "project:churn")
    assert [json.loads(x)["id"] for x in to_stdout.stdout.splitlines()] == [1]
