"""relay --version, the audit filters and relay runs compare (issue #11)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from relayml import __version__
from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings

runner = CliRunner()


def _ok(home: Path, *args: str) -> str:
    result = runner.invoke(app, list(args), env={"RELAY_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_version() -> None:
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0 and result.stdout.strip() == f"relay {__version__}"


def test_audit_filters_by_actor_kind_and_time(tmp_path: Path) -> None:
    home = tmp_path / "home"
    alice = LocalBackend(get_settings(home=home, user="alice"))
    bob = alice.with_actor("bob")
    alice.create_project("p")
    run = bob.create_run("p", "e")
    bob.set_tags(run.id, {"team": "risk"})
    time.sleep(0.01)
    middle = int(time.time() * 1000)
    time.sleep(0.01)
    alice.set_policy("p", "environments: {}\n")
    alice.close()

    def entries(*args: str) -> list[dict[str, str]]:
        return json.loads(_ok(home, "audit", *args, "--json"))

    assert {e["actor"] for e in entries("--actor", "bob")} == {"bob"}
    assert {e["action"] for e in entries("--actor", "bob")} >= {"run.create", "run.set_tags"}
    assert [e["action"] for e in entries("--kind", "policy")] == ["project.set_policy"]
    assert [e["action"] for e in entries("--kind", "set_tags")] == ["run.set_tags"]
    assert {e["entity_kind"] for e in entries("--kind", "run")} == {"run"}
    assert [e["action"] for e in entries("--since", str(middle))] == ["project.set_policy"]
    assert "project.set_policy" not in {e["action"] for e in entries("--until", str(middle))}
    assert entries("--since", "1d") and not entries("--until", "2000-01-01")
    newest = entries("-n", "2")
    older = entries("-n", "2", "--before", str(newest[-1]["id"]))
    assert all(e["id"] < newest[-1]["id"] for e in older) and len(older) == 2
    bad = runner.invoke(app, ["audit", "--since", "yesterday"], env={"RELAY_HOME": str(home)})
    assert bad.exit_code == 2 and "not a time" in bad.output


def test_runs_compare_shows_params_and_metrics_side_by_side(tmp_path: Path) -> None:
    home = tmp_path / "home"
    backend = LocalBackend(get_settings(home=home, user="alice"))
    backend.create_project("p")
    first = backend.create_run("p", "e", name="first")
    second = backend.create_run("p", "e", name="second")
    backend.log_params(first.id, {"depth": 3, "lr": 0.1})
    backend.log_params(second.id, {"depth": 5, "lr": 0.1})
    backend.log_metrics(first.id, [("auc", 0.8, 0, 1)])
    backend.log_metrics(second.id, [("auc", 0.9, 0, 1), ("loss", 0.2, 0, 1)])
    backend.close()
    out = json.loads(_ok(home, "runs", "compare", first.id, second.id[:8], "--json"))
    rows = {r["field"]: (r["values"], r["differs"]) for r in out["rows"]}
    assert out["runs"] == [first.id, second.id]
    assert rows["params.depth"] == (["3", "5"], True)
    assert rows["params.lr"] == (["0.1", "0.1"], False)
    assert rows["metrics.auc"][1] and rows["metrics.loss"] == (["", "0.2"], True)
    diff = json.loads(_ok(home, "runs", "compare", first.id, second.id, "--diff", "--json"))
    assert "params.lr" not in {r["field"] for r in diff["rows"]}
    text = _ok(home, "runs", "compare", first.id, second.id)
    assert "params.depth" in text and "first" in text and "second" in text
    one = runner.invoke(app, ["runs", "compare", first.id], env={"RELAY_HOME": str(home)})
    assert one.exit_code == 1 and "at least two" in one.output
