"""`relay models`, `relay policy`, `relay check model` and project members, run in-process."""

from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.cli.projects import MEMBER_ROLES
from relayml.config import get_settings
from relayml.domain.models import ColumnSpec, ModelFile, ModelHistory, Promotion, Signature
from relayml.projects.members import ROLES

runner = CliRunner()

SIGNATURE = Signature(
    inputs=[ColumnSpec(name="tenure", dtype="float64"), ColumnSpec(name="plan", dtype="string")],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
    task="classification",
    classes=[0, 1],
    has_proba=True,
)

POLICY = """\
evaluation:
  dataset: holdout
environments:
  staging:
    checks:
      - metric: auc
        min: 0.7
  production:
    requires: [staging]
    checks:
      - metric: auc
        min: 0.75
      - no_regression: auc
        margin: 0.01
      - segment_gap: recall
        by: region
        max: 0.2
    approvals:
      - role: risk_manager
"""


def relay(*args: str) -> Result:
    """Run `relay ARGS` in-process."""
    return runner.invoke(app, list(args))


def ok(*args: str) -> str:
    """Run `relay ARGS`, assert success, return standard output."""
    result = relay(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(*args: str) -> Any:
    """Run `relay ARGS --json` and parse what it printed."""
    return json.loads(ok(*args, "--json"))


def assert_error(result: Result, *fragments: str) -> None:
    """Exit code 1 and one 'Error: ...' line on stderr naming every fragment, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


def one_line(text: str) -> str:
    """Text with every run of whitespace (table padding, wrapped lines) made one space."""
    return " ".join(text.split())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store; the CLI acts as alice in project churn."""
    for name in list(os.environ):
        if name.startswith("RELAY_") or name == "COLUMNS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELAY_USER", "alice")
    monkeypatch.setenv("RELAY_PROJECT", "churn")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def register(backend: LocalBackend, content: bytes) -> int:
    sha, size = backend.upload_blob(io.BytesIO(content))
    return backend.create_model_version(
        "churn",
        "churn",
        flavor="sklearn",
        files=[ModelFile(path="model.joblib", sha256=sha, size=size)],
        signature=SIGNATURE,
        requirements=["scikit-learn==1.5.0"],
    ).version


def evaluate(
    backend: LocalBackend, ref: str, auc: float, gap: float = 0.1, dataset: str = "holdout"
) -> None:
    backend.create_evaluation(
        "churn",
        ref,
        {
            "dataset": dataset,
            "target": "churned",
            "task": "classification",
            "rows": 100,
            "metrics": {"auc": auc, "recall": 0.6, "log_loss": 1 - auc, "rows": 100},
            "segments": {"region": {"north": {"recall": 0.6}, "south": {"recall": 0.6 - gap}}},
            "kpis": {
                "revenue_saved": {
                    "value": 1000 * auc,
                    "unit": "EUR",
                    "direction": "increase",
                    "target": None,
                }
            },
        },
    )


@pytest.fixture
def backend(home: Path) -> Iterator[LocalBackend]:
    """Project churn with four versions: v1 good, v2 worse and unfair, v3 best, v4 unevaluated."""
    backend = LocalBackend(get_settings())
    backend.create_project("churn", business_question="Who leaves?")
    for content in (b"v1", b"v2", b"v3", b"v4"):
        register(backend, content)
    evaluate(backend, "churn/1", auc=0.8)
    evaluate(backend, "churn/2", auc=0.74, gap=0.3)
    evaluate(backend, "churn/3", auc=0.85, gap=0.05)
    evaluate(backend, "churn/3", auc=0.9, dataset="recent")
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def policy(backend: LocalBackend, home: Path) -> Path:
    """The policy above, stored as revision 1 from ./relay.yaml."""
    path = Path("relay.yaml")
    path.write_text(POLICY)
    assert "Stored policy revision 1 of project churn" in ok("policy", "set")
    return path


# -- the shape of the new commands -----------------------------------------------------------

NEW_COMMANDS = [
    ["projects", "add-member"],
    ["projects", "members"],
    ["models", "list"],
    ["models", "show"],
    ["models", "versions"],
    ["models", "evaluations"],
    ["models", "compare"],
    ["models", "promote"],
    ["models", "approve"],
    ["models", "reject"],
    ["models", "history"],
    ["policy", "show"],
    ["policy", "set"],
    ["check", "model"],
]


@pytest.mark.parametrize("command", NEW_COMMANDS, ids=" ".join)
def test_each_command_help_teaches_an_example(command: list[str]) -> None:
    out = ok(*command, "--help")
    assert f"relay {' '.join(command)}" in one_line(out.split("Example:")[1])


def test_the_roles_in_the_help_are_the_service_roles() -> None:
    assert MEMBER_ROLES == ROLES


# -- members ---------------------------------------------------------------------------------


def test_members_are_added_and_listed(backend: LocalBackend) -> None:
    creator = backend.actor  # whoever creates a project owns it
    assert as_json("projects", "members", "churn") == {creator: ["owner"]}
    assert "rita is risk_manager in project churn" in ok(
        "projects", "add-member", "churn", "rita", "risk_manager"
    )
    ok("projects", "add-member", "churn", "rita", "auditor")
    ok("projects", "add-member", "churn", "bob", "data_scientist")
    out = ok("projects", "members", "churn")
    assert "rita" in out and "auditor, risk_manager" in out and "bob" in out
    assert as_json("projects", "members", "churn") == {
        "bob": ["data_scientist"],
        creator: ["owner"],
        "rita": ["auditor", "risk_manager"],
    }
    result = relay("projects", "add-member", "churn", "rita", "boss")
    assert_error(result, "unknown role 'boss'", "risk_manager")
    assert_error(relay("projects", "members", "nope"), "'nope'")


# -- list, show, versions, evaluations -------------------------------------------------------


def test_models_list_show_and_versions(backend: LocalBackend) -> None:
    backend.promote("churn", "churn/1", "staging")
    out = ok("models", "list")
    assert "churn" in out and "v4" in out and "staging: v1" in out
    [model] = as_json("models", "list", "-p", "churn")
    assert model["latest_version"] == 4 and model["aliases"] == {"staging": 1}

    shown = ok("models", "show", "churn@staging")
    for expected in ("churn/1", "staging", "sklearn", "tenure", "float64", "prediction"):
        assert expected in shown
    assert "scikit-learn==1.5.0" in shown and "model.joblib" in shown
    sha = backend.get_model_version("churn", "churn/1").files[0].sha256
    assert sha[:12] in shown and sha not in shown  # the short hash
    assert "auc=0.8" in shown and "revenue_saved=800 EUR" in shown
    detail = as_json("models", "show", "churn/1")
    assert detail["version"] == 1 and detail["aliases"] == ["staging"]
    assert [c["name"] for c in detail["signature"]["inputs"]] == ["tenure", "plan"]
    assert [e["dataset"] for e in detail["evaluations"]] == ["holdout"]
    assert "Evaluations: none yet" in ok("models", "show", "churn")  # the latest: v4

    versions = ok("models", "versions", "churn")
    assert versions.index("churn/4") < versions.index("churn/1")
    assert [v["version"] for v in as_json("models", "versions", "churn")] == [4, 3, 2, 1]


def test_evaluations_list_metrics_and_kpis_with_units(backend: LocalBackend) -> None:
    out = ok("models", "evaluations", "churn/3")
    assert out.index("recent") < out.index("holdout")  # newest first
    assert "auc=0.9" in out and "revenue_saved=900 EUR" in out and "100" in out
    listed = as_json("models", "evaluations", "churn/3")
    assert [(e["dataset"], e["metrics"]["auc"]) for e in listed] == [
        ("recent", 0.9),
        ("holdout", 0.85),
    ]
    assert "no evaluations yet" in ok("models", "evaluations", "churn/4")


def test_unknown_models_and_bad_references(backend: LocalBackend) -> None:
    assert_error(relay("models", "show", "nope"), "model 'nope' does not exist", "churn")
    assert_error(relay("models", "show", "churn/9"), "has no version 9")
    assert_error(relay("models", "show", "churn@production"), "no version of 'churn'")
    assert_error(relay("models", "show", "churn/x"), "whole number")
    assert_error(relay("models", "list", "-p", "nope"), "'nope'")


# -- compare ---------------------------------------------------------------------------------


def test_compare_versions_side_by_side(backend: LocalBackend) -> None:
    out = ok("models", "compare", "churn/1", "churn/2", "churn/3", "churn/4", "-d", "holdout")
    header = next(line for line in out.splitlines() if "churn/1" in line)
    assert header.index("churn/1") < header.index("churn/2") < header.index("churn/4")
    auc_row = one_line(next(line for line in out.splitlines() if " auc " in line))
    assert "│ auc │ 0.8 │ 0.74 │ 0.85 ★ │ — │" in auc_row
    loss_row = one_line(next(line for line in out.splitlines() if "log_loss" in line))
    assert "0.15 ★" in loss_row  # lowest is best for a loss
    assert "KPI revenue_saved (EUR)" in out and "850 EUR ★" in out
    assert "churn/4 has no evaluation on holdout" in one_line(out)
    assert "relay.evaluate()" in out

    newest = one_line(ok("models", "compare", "churn/1", "churn/3"))
    assert "│ auc │ 0.8 │ 0.9 ★ │" in newest  # churn/3's newest evaluation is on recent
    assert "different datasets (holdout, recent)" in newest and "--evaluation-dataset" in newest

    data = as_json("models", "compare", "churn/1", "churn/3", "churn/4", "-d", "holdout")
    assert [v["ref"] for v in data["versions"]] == ["churn/1", "churn/3", "churn/4"]
    assert data["versions"][2]["evaluation"] is None
    assert data["best"]["auc"] == ["churn/3"] and data["best"]["log_loss"] == ["churn/3"]
    assert data["best"]["kpi:revenue_saved"] == ["churn/3"]

    recent = as_json("models", "compare", "churn/1", "churn/3", "--evaluation-dataset", "recent")
    assert recent["versions"][0]["evaluation"] is None
    assert recent["versions"][1]["evaluation"]["metrics"]["auc"] == 0.9
    text = ok("models", "compare", "churn/1", "churn/3", "-d", "recent")
    assert "churn/1 has no evaluation on recent" in one_line(text)


def test_compare_needs_two_versions(backend: LocalBackend) -> None:
    result = relay("models", "compare", "churn/1")
    assert result.exit_code == 2 and "at least two versions" in result.output
    assert_error(relay("models", "compare", "churn/1", "churn/8"), "has no version 8")


# -- promotions ------------------------------------------------------------------------------


def test_without_a_policy_a_promotion_succeeds(backend: LocalBackend) -> None:
    out = ok("models", "promote", "churn/1", "--to", "production", "--reason", "first")
    assert "PROMOTED" in out and "churn/1 is now in production" in out
    assert "no gates" in out
    second = as_json("models", "promote", "churn/3", "--to", "production")
    assert Promotion.model_validate(second).status == "PROMOTED"
    assert backend.get_model("churn", "churn").aliases == {"production": 3}
    assert "replacing churn/3" in ok("models", "promote", "churn/1", "--to", "production")


def test_a_failed_promotion_shows_each_gate_and_exits_1(
    backend: LocalBackend, policy: Path
) -> None:
    ok("models", "promote", "churn/2", "--to", "staging")
    result = relay("models", "promote", "churn/2", "--to", "production")
    assert result.exit_code == 1, result.output
    out = one_line(result.stdout)
    assert "FAILED churn/2 may not enter production: 2 of 4 gates failed" in out
    assert "✗ │ auc >= 0.75 │ 0.74 │ 0.75 │" in out
    assert "✗ │ gap of recall across region <= 0.2 │ 0.3 │ 0.2 │" in out
    assert "✓ │ passed through staging │" in out
    assert "production" not in backend.get_model("churn", "churn").aliases
    failed = relay("models", "promote", "churn/2", "--to", "production", "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["status"] == "FAILED"


def test_pending_approval_then_another_member_approves(
    backend: LocalBackend, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("models", "promote", "churn/1", "--to", "staging")
    out = ok("models", "promote", "churn/1", "--to", "production", "-r", "Q3 release")
    assert "PENDING_APPROVAL" in out and "waits for approval by risk_manager" in out
    assert "relay models approve churn/1 --env production -p churn" in out
    assert_error(
        relay("models", "approve", "churn/1", "--env", "production"),
        "alice logged churn/1 and so may not approve or reject it for production",
    )
    monkeypatch.setenv("RELAY_USER", "rita")
    assert_error(
        relay("models", "approve", "churn/1", "--env", "production"), "needs the role risk_manager"
    )
    monkeypatch.setenv("RELAY_USER", "alice")
    ok("projects", "add-member", "churn", "rita", "risk_manager")
    monkeypatch.setenv("RELAY_USER", "rita")
    approved = ok("models", "approve", "churn/1", "--env", "production", "-m", "looks fine")
    monkeypatch.setenv("RELAY_USER", "alice")
    assert "PROMOTED" in approved and "churn/1 is now in production" in approved
    assert "rita" in approved and "looks fine" in approved
    assert backend.get_model("churn", "churn").aliases["production"] == 1
    assert_error(
        relay("models", "approve", "churn/1", "--env", "production"), "does not wait for approval"
    )


def test_a_rejected_promotion_leaves_the_environment_alone(
    backend: LocalBackend, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.add_member("churn", "rita", "risk_manager")
    ok("models", "promote", "churn/3", "--to", "staging")
    ok("models", "promote", "churn/3", "--to", "production")
    monkeypatch.setenv("RELAY_USER", "rita")
    rejected = as_json("models", "reject", "churn/3", "--env", "production", "-m", "bias")
    monkeypatch.setenv("RELAY_USER", "alice")
    assert rejected["status"] == "REJECTED"
    assert rejected["approvals"][0]["decision"] == "reject"
    assert "production" not in backend.get_model("churn", "churn").aliases


def test_an_unknown_environment_is_a_usage_error(backend: LocalBackend) -> None:
    for args in (
        ["models", "promote", "churn/1", "--to", "prod"],
        ["models", "approve", "churn/1", "--env", "qa"],
        ["check", "model", "churn/1", "--env", "prod"],
    ):
        result = relay(*args)
        assert result.exit_code == 2, result.output
        assert "development, staging, production" in one_line(result.output)
    assert backend.model_history("churn", "churn").promotions == []


# -- history ---------------------------------------------------------------------------------


def test_history_tells_the_life_of_a_model(backend: LocalBackend, policy: Path) -> None:
    backend.add_member("churn", "rita", "risk_manager")
    rita = backend.with_actor("rita")
    backend.promote("churn", "churn/1", "staging")
    backend.promote("churn", "churn/1", "production", "Q3 release")
    rita.decide_promotion("churn", "churn/1", "production", "approve", "looks fine")
    backend.promote("churn", "churn/2", "staging")
    backend.promote("churn", "churn/2", "production")  # FAILED
    backend.promote("churn", "churn/3", "staging", "better recall")
    backend.promote("churn", "churn/3", "production")  # waits

    out = ok("models", "history", "churn")
    flat = one_line(out)
    assert "Now: staging: churn/3 · production: churn/1" in flat
    assert "churn/1 → production PROMOTED requested by alice" in flat
    assert "reason: Q3 release" in flat
    assert "✓ auc >= 0.75: 0.8 (threshold 0.75)" in flat
    assert "✓ approved by rita (risk_manager)" in flat and '"looks fine"' in flat
    assert "churn/2 → production FAILED" in flat
    assert "✗ auc >= 0.75: 0.74 (threshold 0.75)" in flat
    assert "churn/3 → production PENDING_APPROVAL" in flat and "waiting for approval" in flat
    assert out.index("churn/1 → staging") < out.index("churn/2 → production")

    intervals = out[out.index("Environments over time") :]
    rows = [
        [cell.strip() for cell in line.split("│") if cell.strip()]
        for line in intervals.splitlines()
        if "churn/" in line
    ]
    assert [row[:2] for row in rows] == [
        ["staging", "churn/1"],
        ["staging", "churn/2"],
        ["staging", "churn/3"],
        ["production", "churn/1"],
    ]
    assert "now" in rows[2] and "better recall" in rows[2]
    assert "now" in rows[3] and "rita" in rows[3] and "Q3 release" in rows[3]

    history = ModelHistory.model_validate(as_json("models", "history", "churn"))
    assert [p.status for p in history.promotions] == [
        "PROMOTED", "PROMOTED", "PROMOTED", "FAILED", "PROMOTED", "PENDING_APPROVAL",
    ]  # fmt: skip
    assert history.promotions[1].approvals[0].comment == "looks fine"
    assert [(e.alias, e.version, e.ended_at is None) for e in history.aliases] == [
        ("staging", 1, False),
        ("production", 1, True),
        ("staging", 2, False),
        ("staging", 3, True),
    ]


def test_history_of_a_model_never_promoted(backend: LocalBackend) -> None:
    out = ok("models", "history", "churn")
    assert "Now: no environment" in out and "has not been promoted yet" in out
    assert as_json("models", "history", "churn") == {
        "model": "churn",
        "aliases": [],
        "promotions": [],
    }
    assert_error(relay("models", "history", "nope"), "model 'nope' does not exist")


# -- policy ----------------------------------------------------------------------------------


def test_policy_set_and_show(backend: LocalBackend, home: Path) -> None:
    assert "has no promotion policy yet" in ok("policy", "show")
    assert as_json("policy", "show")["revision"] is None
    Path("relay.yaml").write_text(POLICY)
    out = ok("policy", "set")
    assert "Stored policy revision 1 of project churn" in out
    assert "production (requires staging, 3 checks, approval by risk_manager)" in one_line(out)
    shown = ok("policy", "show", "-p", "churn")
    assert "revision 1" in shown and "role: risk_manager" in shown and "min: 0.75" in shown
    assert "higher_is_better" not in shown  # defaults are left out
    Path("other.yaml").write_text("environments:\n  staging:\n    checks: []\n")
    assert as_json("policy", "set", "other.yaml")["revision"] == 2
    info = as_json("policy", "show")
    assert info["revision"] == 2 and info["document"]["environments"]["staging"]["checks"] == []


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("environments: [\n", ["bad.yaml is not valid YAML at line 2"]),
        ("environments:\n  prod: {}\n", ["bad.yaml:", "environment 'prod'"]),
        ("environments:\n  staging:\n    checks:\n      - metric: auc\n", ["needs min, max"]),
        ("environments:\n  staging:\n    chekcs: []\n", ["bad.yaml:", "chekcs"]),
    ],
)
def test_a_bad_policy_file_is_refused(
    backend: LocalBackend, policy: Path, source: str, words: list[str]
) -> None:
    Path("bad.yaml").write_text(source)
    assert_error(relay("policy", "set", "bad.yaml"), *words)
    assert as_json("policy", "show")["revision"] == 1  # nothing stored


def test_a_missing_policy_file_says_what_to_do(backend: LocalBackend) -> None:
    assert_error(
        relay("policy", "set"), "policy file 'relay.yaml' does not exist", "relay policy set"
    )
    assert_error(relay("policy", "set", "nope.yaml"), "'nope.yaml' does not exist")


# -- check -----------------------------------------------------------------------------------


def test_check_model_exit_codes_and_junit(backend: LocalBackend, policy: Path) -> None:
    out = ok("check", "model", "churn/1", "--env", "staging")
    assert "✓" in out and "PASSED" in out and "every gate passed for churn/1" in out
    report = as_json("check", "model", "churn/1", "--env", "staging")
    assert report["passed"] is True and report["gates"][0]["figure"] == 0.8

    backend.promote("churn", "churn/2", "staging")
    result = relay("check", "model", "churn/2", "--env", "production", "--junit", "ci/gates.xml")
    assert result.exit_code == 1, result.output
    flat = one_line(result.stdout)
    assert "✗ │ auc >= 0.75 │ 0.74 │ 0.75 │" in flat and "FAILED 2 of 4 gates failed" in flat
    assert "Approvals still needed: 1 x risk_manager" in flat
    suite = ET.parse("ci/gates.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("name") == "relay gates churn/2 → production"
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases][:2] == ["passed through staging", "auc >= 0.75"]
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    assert len(failures) == 2
    assert failures[0] is not None
    assert failures[0].get("message") == "auc >= 0.75: figure 0.74, threshold 0.75"
    assert backend.model_history("churn", "churn").promotions[-1].environment == "staging"

    failed = relay("check", "model", "churn/2", "--env", "production", "--json")
    assert failed.exit_code == 1 and json.loads(failed.stdout)["passed"] is False


def test_check_model_without_gates_passes(backend: LocalBackend) -> None:
    out = ok("check", "model", "churn/4", "--env", "production", "--junit", "gates.xml")
    assert "the policy sets no gates for production" in out
    suite = ET.parse("gates.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "0" and suite.get("failures") == "0"
