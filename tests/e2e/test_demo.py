"""`make demo`'s job, run as a user runs it, then checked in the store."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.demo.weeks import FAST
from relayml.domain.entities import RunStatus
from tests.fixtures.documented import Demo, clean_env, relay_commands, run_commands
from tests.fixtures.warm_cli import run_relay

ROOT = Path(__file__).resolve().parents[2]


def test_demo_builds_the_churn_project_and_compares_two_models(demo: Demo) -> None:
    home = demo.home
    out = demo
    assert "reduce customer churn by 10%" in out.stdout
    assert "logistic_regression" in out.stdout and "gradient_boosting" in out.stdout
    backend = LocalBackend(get_settings(home=home))
    project = backend.get_project("churn")
    assert project.business_question == "reduce customer churn by 10%"
    assert {k.name for k in project.kpis} == {"churn_rate", "customers_retained", "revenue_saved"}
    page = backend.search_runs("churn", order_by=["metrics.auc DESC"])
    assert {r.name for r in page.runs} == {
        "logistic_regression", "gradient_boosting", "retrained_on_production",
    }  # fmt: skip
    assert all(r.status is RunStatus.FINISHED for r in page.runs)
    assert all(0.6 < r.metrics["auc"] < 1.0 for r in page.runs)
    best = max((r for r in page.runs if r.name != "retrained_on_production"),
               key=lambda r: r.metrics["auc"])  # fmt: skip
    assert f"Best by AUC: {best.name}" in out.stdout
    paths = [a.path for a in backend.list_artifacts(best.id)]
    assert paths == ["evaluation/metrics.json", "evaluation/predictions_sample.csv"]
    gbm = next(r for r in page.runs if r.name == "gradient_boosting")
    assert len(backend.get_metric_history(gbm.id, "test_auc_by_trees")) == 100

    # models: both baselines registered, evaluated on the first holdout, the better one promoted
    # with the risk manager's approval (act one); act two adds the retrained churn/3
    versions = backend.list_model_versions("churn", "churn")
    assert [v.version for v in versions] == [3, 2, 1]
    first = {  # each version's oldest evaluation: act one's, on the first holdout
        v: backend.list_evaluations("churn", f"churn/{v}")[-1] for v in (1, 2)
    }
    winner = max(first, key=lambda v: first[v].metrics["roc_auc"])
    assert first[winner].kpis["revenue_saved"]["unit"] == "EUR"
    history = backend.model_history("churn", "churn")
    assert [(p.version, p.environment, p.status) for p in history.promotions][:2] == [
        (winner, "staging", "PROMOTED"),
        (winner, "production", "PROMOTED"),
    ]
    assert history.promotions[1].approvals[0].user == "rita"
    assert f"churn/{winner} -> production: PROMOTED" in out.stdout
    backend.close()

    story = run_relay(
        ["models", "history", "churn", "-p", "churn"],
        env={**os.environ, "RELAY_HOME": str(home), "COLUMNS": "160"},
        cwd=Path.cwd(),
        timeout=120,
    )
    assert story.returncode == 0, story.stderr
    for words in ("staging", "production", "rita", "risk_manager", "roc_auc", f"churn/{winner}"):
        assert words in story.stdout, words
    origin = run_relay(
        ["lineage", "model_version", f"churn/{winner}",
         "-p", "churn", "--json", "--depth", "6", "--direction", "upstream"],
        env={**os.environ, "RELAY_HOME": str(home)}, cwd=Path.cwd(), timeout=120,
    )  # fmt: skip
    assert origin.returncode == 0, origin.stderr
    keys = {(n["kind"], n["key"]) for n in json.loads(origin.stdout)["nodes"]}
    assert ("dataset_version", "churn/customers@1") in keys
    assert any(kind == "run" for kind, _ in keys)
    assert any(kind == "pipeline_run" for kind, _ in keys)  # the data was built by a pipeline
    assert any(kind == "step_run" for kind, _ in keys)
    assert "Pipeline customer_data (2 steps, 0 cached) -> customers@1" in out.stdout
    # the first day in production: decisions, serving, outcomes, expert feedback, monitoring
    for words in (
        "churn: decision table revision 1 (2 rules) applied.",
        "Served 1000 customers:",
        "Outcomes recorded for 500 customers",
        f"churn/{winner} answered",
        "Flag 1: prediction",
        "drift against customers@1",
        "accuracy (estimated)",
        "customers_retained:",
        "2 alert rule(s) active",
        'relay_predictions_total{mode="live",model="churn"',
    ):
        assert words in out.stdout, words
    assert "[bold]" not in out.stdout and "[/" not in out.stdout


def test_demo_lives_eight_weeks_in_production_then_ships_the_retrained_winner(
    demo: Demo,
) -> None:
    """Act two: replayed weeks, drift from week 5, alerts and a webhook, retraining on the
    alert, a canary, the expert's flags and rule, a live A/B test, approval, the risk report."""
    from relayml.predictions import read_log

    backend = LocalBackend(get_settings(home=demo.home))
    out = demo.stdout
    logged = read_log(str(demo.home / "artifacts" / "predictions")).to_pandas()
    days = pd.to_datetime(logged["timestamp"], unit="ms", utc=True).dt.normalize()
    today = pd.Timestamp(demo.started).normalize()  # not now: the tests may run past midnight
    assert days.min() == today - pd.Timedelta(days=55)  # eight weeks, replayed, ending today
    assert days.nunique() == 56
    per_day = logged[days < today].groupby(days[days < today]).size()
    assert per_day.iloc[0] == 1000 + FAST.per_day and set(per_day.iloc[1:]) == {FAST.per_day}
    assert len(logged[days == today]) == FAST.per_day + FAST.today  # day 55 and the A/B test

    # the alerts: nothing before the drift (week 5), then both fire; the webhook heard them
    events = backend.list_alert_events("churn", active_only=False)
    fired = {e.rule for e in events}
    assert {"drift", "accuracy"} <= fired
    for week in range(1, 5):
        line = next(x for x in out.splitlines() if x.startswith(f"Week {week} "))
        assert "drift share 0%" in line and "quiet" in line, line
    assert "webhook -> on-call: open 'drift'" in out
    assert "webhook -> on-call: open 'accuracy'" in out

    # the accuracy alert's schedule ran the retraining pipeline, which made churn/3 from
    # production's own labelled customers and the CRM features, point in time
    firings = backend.get_schedule("churn", "retrain").firings
    assert [f.status for f in firings] == ["finished"] and firings[0].pipeline_run
    assert "alert 'accuracy' fired" in firings[0].reason
    retrained = backend.get_model_version("churn", "churn/3")
    assert retrained.run_id is not None
    origin = backend.lineage("model_version", "churn/churn/3", depth=6, direction="upstream")
    keys = {(n.kind, n.key) for n in origin.nodes}
    assert any(k == "dataset_version" and "churn_retraining@" in key for k, key in keys), keys
    assert ("dataset_version", "churn/crm_customers@5") in keys, keys  # week 5's CRM load
    assert ("feature", "churn/crm:contract") in keys, keys

    # canary, then A/B, then the winner alone, each a revision with who and why
    strategies = [r.strategy for r in backend.deployment_history("churn", "churn", "production")]
    assert strategies[-3:] == ["canary", "ab", "single"] or strategies[-2:] == ["canary", "ab"]
    assert "v3 better on accuracy" in out
    assert backend.get_model_version("churn", "churn@production").version == 3
    last = backend.model_history("churn", "churn").promotions[-1]
    assert (last.version, last.environment, last.status) == (3, "production", "PROMOTED")
    assert [a.user for a in last.approvals] == ["rita"]

    # the expert: two flags under her own name, and a decision rule changed
    flags = backend.list_flags("churn", status=None)
    assert sorted(f.created_by for f in flags) == ["root", "sam", "sam"] or len(flags) == 3
    assert sum(f.created_by == "sam" for f in flags) == 2
    table = backend.get_decision_table("churn", "churn")
    assert table.revision == 2 and table.created_by == "sam"

    # the risk report of what production runs now
    report = (demo.home / "churn-risk-report.html").read_text()
    assert "churn/3" in report and "rita" in report
    assert "churn in production: eight weeks, then today" in out
    backend.close()


# README examples that cannot run as one short command here, and why
NOT_RUN = {
    "relay server": "runs until stopped; tests/e2e/test_cli.py starts and stops it",
    "relay serve churn@production": "runs until stopped; tests/e2e/test_model_server.py serves it",
}
# README examples whose documented answer, in the state the demo leaves, is exit code 1
FAILS_AS_DOCUMENTED = {
    "relay deploy promote-winner churn --env production": "no winner",
}
DECISIONS = 'default: no action\nrules:\n  - {name: save, when: {score: ">= 0.6"}, action: call}\n'
ALERTS = (
    "alerts:\n  - {name: traffic, model: churn, env: production, figure: traffic, "
    "below: 1, window: day}\n"
)
CHECKS = "checks:\n  - {column: tenure_months, not_null: true, min: 0}\n  - {rows: {min: 100}}\n"


@pytest.mark.timeout(900)  # many CLI processes; a hang still fails it
def test_every_readme_command_runs_verbatim_after_the_demo(demo: Demo, tmp_path: Path) -> None:
    """As a newcomer after `make demo`: no -p, no RELAY_PROJECT, the files the README names."""
    from relayml.predictions.reader import read_log

    home = tmp_path / "home"
    shutil.copytree(demo.home, home)
    (tmp_path / "decisions.yaml").write_text(DECISIONS)
    (tmp_path / "alerts.yaml").write_text(ALERTS)
    (tmp_path / "checks.yaml").write_text(CHECKS)
    backend = LocalBackend(get_settings(home=home))
    run_id = (
        backend.search_runs("churn", filter="tags.demo = 'true'", order_by=["metrics.auc DESC"])
        .runs[0]
        .id
    )  # the best baseline (the retrained run logs no artifacts)
    backend.close()
    logged = read_log(str(home / "artifacts" / "predictions")).to_pandas()
    env = clean_env(home)
    pipelines = run_relay(["pipelines", "list", "--json"], env=env, cwd=tmp_path, timeout=120)
    placeholders = {
        "<run-id>": run_id,
        "<prediction-id>": str(logged["prediction_id"].iloc[0]),
        "<run>": json.loads(pipelines.stdout)[0]["id"],
    }
    commands = relay_commands(ROOT / "README.md")
    assert len(commands) > 25 and set(NOT_RUN) <= set(commands)
    assert set(FAILS_AS_DOCUMENTED) <= set(commands)
    failures = run_commands(
        [command for command in commands if command not in NOT_RUN],
        env=env, cwd=tmp_path, placeholders=placeholders, fails_as_documented=FAILS_AS_DOCUMENTED,
    )  # fmt: skip
    assert not failures, "\n".join(failures)
    assert (tmp_path / "gates.xml").is_file() and (tmp_path / "bundle" / "Dockerfile").is_file()
    assert (tmp_path / "evaluation").is_dir()
