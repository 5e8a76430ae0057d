"""relay.init() does not silently rewrite what the project's owner set (issue #11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import relayml as relay
from relayml.cli import app
from relayml.errors import Conflict

KPIS = [
    {"name": "churn_rate", "unit": "%", "direction": "decrease", "target": -10.0},
    {"name": "revenue_saved", "unit": "EUR", "target": 15000.0},
]


def test_init_creates_with_kpis_and_refuses_to_change_them_without_update(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = relay.init(project="churn", home=home, business_question="why?", kpis=KPIS)
    assert [k.name for k in created.kpis] == ["churn_rate", "revenue_saved"]
    # the same values again (a script run twice) change nothing and are fine
    again = relay.init(project="churn", home=home, business_question="why?", kpis=KPIS)
    assert again.kpis == created.kpis
    assert relay.init(project="churn", home=home).business_question == "why?"

    with pytest.raises(Conflict, match="relay projects update churn") as caught:
        relay.init(project="churn", home=home, kpis=KPIS[:1])
    assert "update=True" in str(caught.value) and "KPIs" in str(caught.value)
    with pytest.raises(Conflict, match="business question"):
        relay.init(project="churn", home=home, business_question="something else")
    kept = relay.init(project="churn", home=home)
    assert [k.name for k in kept.kpis] == ["churn_rate", "revenue_saved"]
    assert kept.business_question == "why?"

    changed = relay.init(project="churn", home=home, kpis=KPIS[:1], update=True)
    assert [k.name for k in changed.kpis] == ["churn_rate"]
    relay.init(project="teardown", home=tmp_path / "teardown")


def test_the_cli_updates_a_project_and_sets_one_kpi(tmp_path: Path) -> None:
    home = tmp_path / "home"
    relay.init(project="churn", home=home, business_question="why?", kpis=KPIS)
    relay.init(project="teardown", home=tmp_path / "teardown")
    env = {"RELAY_HOME": str(home), "RELAY_USER": "sme"}

    def ok(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    definition = '{"type": "confusion_value", "threshold": 0.4, "tp": 250, "fp": -40}'
    ok("projects", "kpi", "set", "revenue_saved", "-p", "churn", "--target", "20000",
       "--definition", definition)  # fmt: skip
    project = json.loads(ok("projects", "show", "churn", "--json"))
    kpis = {k["name"]: k for k in project["kpis"]}
    assert kpis["revenue_saved"]["target"] == 20000 and kpis["revenue_saved"]["unit"] == "EUR"
    assert kpis["revenue_saved"]["definition"]["threshold"] == 0.4
    assert kpis["churn_rate"]["target"] == -10  # the others are kept
    ok("projects", "kpi", "set", "new_kpi", "-p", "churn", "--unit", "x", "--direction", "decrease")
    names = [k["name"] for k in json.loads(ok("projects", "show", "churn", "--json"))["kpis"]]
    assert names == ["churn_rate", "revenue_saved", "new_kpi"]

    bad = CliRunner().invoke(
        app, ["projects", "kpi", "set", "x", "-p", "churn", "--definition", "{nope"], env=env
    )
    assert bad.exit_code == 2 and "JSON object" in bad.output

    ok("projects", "update", "churn", "--question", "who leaves?", "--description", "d")
    project = json.loads(ok("projects", "show", "churn", "--json"))
    assert project["business_question"] == "who leaves?" and len(project["kpis"]) == 3
    audit = json.loads(ok("audit", "--kind", "project.update", "--json"))
    assert audit and audit[0]["actor"] == "sme"
