"""relay runs delete|restore and relay experiments delete|restore (issue #11)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings

runner = CliRunner()


def _run(home: Path, *args: str) -> Result:
    return runner.invoke(app, list(args), env={"RELAY_HOME": str(home), "RELAY_USER": "alice"})


def _ok(home: Path, *args: str) -> str:
    result = _run(home, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_runs_and_experiments_are_deleted_and_restored_from_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    backend = LocalBackend(get_settings(home=home, user="alice"))
    backend.create_project("p")
    kept = backend.create_run("p", "e1")
    gone = backend.create_run("p", "e1")
    other = backend.create_run("p", "e2")
    backend.close()

    def listed(*args: str) -> set[str]:
        return {r["id"] for r in json.loads(_ok(home, "runs", "list", "-p", "p", *args, "--json"))}

    out = _ok(home, "runs", "delete", gone.id[:8])
    assert f"Deleted run {gone.id}" in out and f"relay runs restore {gone.id}" in out
    assert listed() == {kept.id, other.id}
    assert listed("--deleted") == {kept.id, gone.id, other.id}
    assert "deleted" in _ok(home, "runs", "show", gone.id)
    again = _run(home, "runs", "delete", gone.id)
    assert again.exit_code == 1 and "already deleted" in again.stderr
    assert "Restored run" in _ok(home, "runs", "restore", gone.id[:8])
    assert listed() == {kept.id, gone.id, other.id}

    out = _ok(home, "experiments", "delete", "e2", "-p", "p")
    assert "relay experiments restore e2 -p p" in out
    assert listed() == {kept.id, gone.id}
    names = json.loads(_ok(home, "experiments", "list", "-p", "p", "--json"))
    assert [e["name"] for e in names] == ["e1"]
    assert "e2" in _ok(home, "experiments", "list", "-p", "p", "--deleted")
    _ok(home, "experiments", "restore", "e2", "-p", "p")
    assert listed() == {kept.id, gone.id, other.id}
    audit = json.loads(_ok(home, "audit", "--kind", "run", "--json"))
    assert {"run.delete", "run.restore"} <= {e["action"] for e in audit}
