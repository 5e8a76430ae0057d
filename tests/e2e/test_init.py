"""`relay init NAME`: the scaffold it writes passes its own checks out of the box.

The scaffold's Makefile runs as a data scientist (or CI) runs it: its pytest suite, ruff, the
project and policy from relay.yaml, `relay features apply`, `relay pipelines run`, and the
staging gates with `relay check model` on the trained version, in a store of the test's own.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from relayml.cli import app
from relayml.models.policy import ProjectSection, parse_policy
from tests.fixtures.warm_cli import run_relay

runner = CliRunner()
QUESTION = "Which customers will leave next month?"


def _env(home: Path) -> dict[str, str]:
    """This environment without relay or pytest settings of the outer run; a store in home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
    return env | {"RELAY_HOME": str(home), "COLUMNS": "200"}


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`relay init my-project` in a fresh folder, run as a user types it."""
    folder = tmp_path_factory.mktemp("init")
    out = run_relay(
        ["init", "my-project", "-q", QUESTION], env=_env(folder / "home"), cwd=folder, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "pipeline.py" in out.stdout and "make train" in out.stdout  # the tree, the next steps
    return folder / "my-project"


def test_the_scaffold_holds_the_layout_a_platform_team_hands_over(scaffold: Path) -> None:
    expected = {
        "relay.yaml", "pyproject.toml", "Makefile", "README.md", ".pre-commit-config.yaml",
        ".gitignore", ".github/workflows/ci.yml", "src/my_project/__init__.py",
        "src/my_project/pipeline.py", "src/my_project/features.py", "src/my_project/checks.py",
        "src/my_project/data.py", "src/my_project/project.py", "tests/conftest.py",
        "tests/test_pipeline.py", "tests/test_checks.py", "tests/test_features.py",
    }  # fmt: skip
    written = {p.relative_to(scaffold).as_posix() for p in scaffold.rglob("*") if p.is_file()}
    assert written == expected
    readme = (scaffold / "README.md").read_text()
    for topic in ("How model code is delivered", "How to log", "Tests expected", QUESTION):
        assert topic in readme


def test_relay_yaml_is_read_by_relays_own_policy_loader(scaffold: Path) -> None:
    document = yaml.safe_load((scaffold / "relay.yaml").read_text())
    project = ProjectSection.model_validate(document["project"])
    assert (project.name, project.business_question) == ("my-project", QUESTION)
    assert {k.name for k in project.kpis} == {"customers_retained", "net_value", "churners_found"}
    assert all(k.definition for k in project.kpis)
    policy = parse_policy(document)
    assert [c.metric for c in policy.environments["staging"].checks] == ["roc_auc", "recall"]
    assert policy.environments["production"].requires == ["staging"]
    assert policy.environments["production"].approvals[0].role == "risk_manager"
    assert policy.review == {"high": 90, "medium": 180, "low": 365}


def test_ci_pre_commit_and_pyproject_parse(scaffold: Path) -> None:
    ci = yaml.safe_load((scaffold / ".github/workflows/ci.yml").read_text())
    triggers = ci.get("on", ci.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    steps = {name: [s.get("run", "") for s in job["steps"]] for name, job in ci["jobs"].items()}
    assert {"make lint", "make test"} <= set(steps["test"])
    assert ci["jobs"]["gates"]["if"] == "github.event_name == 'pull_request'"
    assert {"make train", "make check"} <= set(steps["gates"])
    assert "refs/heads/main" in ci["jobs"]["deploy"]["if"]
    assert "make deploy ENV=staging" in steps["deploy"]
    assert ci["jobs"]["deploy"]["env"]["RELAY_TOKEN"] == "${{ secrets.RELAY_TOKEN }}"
    hooks = yaml.safe_load((scaffold / ".pre-commit-config.yaml").read_text())
    ids = {hook["id"] for repo in hooks["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format"} <= ids
    pyproject = tomllib.loads((scaffold / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "my-project"
    assert any(d.startswith("relayml>=") for d in pyproject["project"]["dependencies"])


def test_the_scaffold_passes_its_own_checks_out_of_the_box(scaffold: Path) -> None:
    relay = f"{shlex.quote(sys.executable)} -m relayml.cli"
    targets = ["test", "lint", "project", "features", "train", "check"]
    out = subprocess.run(
        ["make", *targets, f"PYTHON={sys.executable}", f"RELAY={relay}"],
        capture_output=True, text=True, timeout=600, cwd=scaffold,
        env=_env(scaffold.parent / "home"),
    )  # fmt: skip
    said = out.stdout + out.stderr
    assert out.returncode == 0, said[-3000:]
    assert " passed" in said and " failed" not in said  # the scaffold's pytest suite
    assert "All checks passed!" in said  # ruff
    assert "customer_activity" in said  # relay features apply
    assert "FINISHED" in said and "PASSED" in said  # the pipeline; the staging gates
    gates = ET.parse(scaffold / "reports/gates.xml").getroot()
    assert (gates.get("tests"), gates.get("failures")) == ("2", "0")
    properties = {p.get("name"): p.get("value") for p in gates.iter("property")}
    assert properties["model"] == "my_project/1"  # the version the pipeline registered
    # the declared feature set reads the pipeline's features step, and its checks pass there
    checked = json.loads(_relay(scaffold, "features", "check", "customer_activity", "--json"))
    assert (checked["rows"], checked["passed"], len(checked["outcomes"])) == (2000, True, 4)


def _relay(scaffold: Path, *args: str) -> str:
    """A relay command on the scaffold's project and store; its output (it must succeed)."""
    out = run_relay(
        [*args, "-p", "my-project"], env=_env(scaffold.parent / "home"), cwd=scaffold, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_folder_that_is_not_empty_is_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    refused = runner.invoke(app, ["init", "demo", "--dir", str(tmp_path)])
    assert refused.exit_code == 1
    assert "is not empty (1 entries: notes.txt)" in refused.output
    assert "--force" in refused.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written
    forced = runner.invoke(app, ["init", "demo", "--dir", str(tmp_path), "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "notes.txt").read_text() == "mine"  # other files are kept
    assert "src/demo/pipeline.py" in json.loads(forced.output)["files"]
    again = runner.invoke(app, ["init", "demo", "--dir", str(tmp_path), "--force", "--json"])
    assert "relay.yaml" in json.loads(again.output)["replaced"]


def test_a_file_as_the_target_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "taken").write_text("")
    monkeypatch.chdir(tmp_path)  # a short relative path: the error panel does not wrap it
    refused = runner.invoke(app, ["init", "demo", "--dir", "taken"])
    assert refused.exit_code != 0
    assert "taken" in refused.output


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("1project", "start with a letter"),
        ("my project", "start with a letter"),
        ("my.project", "start with a letter"),
        ("json", "would shadow a module of that name"),
        ("class", "would shadow a Python keyword"),
        ("relayml", "would shadow"),
    ],
)
def test_a_bad_name_is_refused_saying_why(tmp_path: Path, name: str, says: str) -> None:
    refused = runner.invoke(app, ["init", name, "--dir", str(tmp_path / "p")])
    assert refused.exit_code == 1
    assert says in refused.output
    assert "Traceback" not in refused.output
    assert not (tmp_path / "p").exists()


def test_the_package_name_comes_from_the_project_name(tmp_path: Path) -> None:
    question = 'Is it "fraud"? <yes> & it\'s #1: \\ {{ raw }}'
    args = ["init", "Fraud-Scoring", "--dir", str(tmp_path), "-q", question, "--json"]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    written = json.loads(done.output)
    assert written["package"] == "fraud_scoring"
    assert (tmp_path / "src/fraud_scoring/pipeline.py").is_file()
    assert "fraud_scoring.pipeline:training" in (tmp_path / "Makefile").read_text()
    # the question, quotes and all, reads back from YAML and TOML as typed
    relay_yaml = yaml.safe_load((tmp_path / "relay.yaml").read_text())
    assert relay_yaml["project"]["business_question"] == question
    pyproject = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == f"Fraud-Scoring: {question}"
    assert question in (tmp_path / "README.md").read_text()
