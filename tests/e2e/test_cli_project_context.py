"""Which project a command works on when none is named: natural for a newcomer, and said."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from relayml.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store, with no RELAY_PROJECT."""
    monkeypatch.delenv("RELAY_PROJECT", raising=False)
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELAY_USER", "ada")
    return tmp_path / "home"


def relay(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run `relay ARGS` in-process."""
    return runner.invoke(app, list(args), env=env)


def test_an_empty_store_says_how_to_create_a_project(home: Path) -> None:
    result = relay("experiments", "list")
    assert result.exit_code == 1
    assert "there is no project yet" in result.stderr
    assert "relay projects create NAME" in result.stderr


def test_the_only_project_is_the_current_one_and_the_header_says_so(home: Path) -> None:
    assert relay("projects", "create", "churn", "-q", "who leaves?").exit_code == 0
    result = relay("experiments", "list")
    assert result.exit_code == 0, result.output
    assert "Experiments of project churn" in result.stdout
    assert "Project: churn (the only project" in result.stderr
    shown = relay("projects", "show")
    assert shown.exit_code == 0 and "who leaves?" in shown.stdout


def test_with_several_projects_a_command_asks_which(home: Path) -> None:
    for name in ("churn", "fraud"):
        assert relay("projects", "create", name).exit_code == 0
    result = relay("experiments", "list")
    assert result.exit_code == 1
    assert "which project? This store has 2: churn, fraud" in result.stderr
    assert "relay projects use NAME" in result.stderr
    assert relay("experiments", "list", "-p", "fraud").exit_code == 0


def test_projects_use_chooses_for_the_folder_and_the_environment_still_wins(home: Path) -> None:
    for name in ("churn", "fraud"):
        assert relay("projects", "create", name).exit_code == 0
    chosen = relay("projects", "use", "fraud")
    assert chosen.exit_code == 0, chosen.output
    assert (home / "project").read_text().strip() == "fraud"
    listed = relay("experiments", "list")
    assert "Experiments of project fraud" in listed.stdout
    assert "Project: fraud (chosen with `relay projects use`" in listed.stderr
    current = relay("projects", "current")
    assert current.stdout.startswith("fraud (chosen with")
    forced = relay("experiments", "list", env={"RELAY_PROJECT": "churn"})
    assert "Experiments of project churn" in forced.stdout
    assert "Project:" not in forced.stderr  # named explicitly: no header
    named = relay("experiments", "list", "-p", "churn")
    assert "Experiments of project churn" in named.stdout and named.stderr == ""


def test_projects_use_refuses_a_project_that_does_not_exist(home: Path) -> None:
    assert relay("projects", "create", "churn").exit_code == 0
    result = relay("projects", "use", "churm")
    assert result.exit_code == 1
    assert "churm" in result.stderr
    assert not (home / "project").exists()


def test_runs_show_takes_the_project_option(home: Path) -> None:
    from relayml.backend import LocalBackend
    from relayml.config import get_settings

    backend = LocalBackend(get_settings(home=home))
    backend.create_project("churn")
    backend.create_project("fraud")
    run = backend.create_run("churn", "baseline")
    backend.close()
    shown = relay("runs", "show", run.id, "-p", "churn")
    assert shown.exit_code == 0, shown.output
    assert run.id in shown.stdout
    wrong = relay("runs", "show", run.id, "-p", "fraud")
    assert wrong.exit_code == 1
    assert f"run {run.id} is in project 'churn', not 'fraud'" in wrong.stderr
