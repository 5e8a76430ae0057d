"""Act two of the demo: eight weeks of the churn model in production, simulated, ending today.

A traffic simulator plays the CRM: every simulated day it scores that day's customers through a
real `relay serve churn@production --replay`, each request stamped with its day (X-Relay-Time), so
the weeks land in the monitoring windows they belong to; the data engineer loads the CRM's
snapshots weekly; the customers' outcomes (renewed or left) arrive two days late. From week five
the market moves: prices go up, support is busier, and a competitor courts the yearly contracts.
Each simulated week ends with `relay monitor run --at <that moment>`: the drift and accuracy
alerts fire, a webhook is delivered, the accuracy alert's schedule starts the retraining pipeline
(relayml.demo.retrain), the new version goes to production as a canary, the subject-matter expert
flags odd answers and changes a decision rule. Today, live, an A/B test decides; the winner is
promoted with the risk manager's approval, and the risk report is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import relayml as relay
from relayml.demo.production import DECISIONS, free_port, relay_command, start_model_server
from relayml.demo.story import customers
from relayml.demo.team import Platform, rita_approves
from relayml.demo.traffic import FAST, FULL, LABEL_LAG, WEEKS, Hooks, Scale, Traffic, first_day

__all__ = ["FAST", "FULL", "first_day", "live_eight_weeks", "summary"]

console = Console()
PROJECT = "churn"
DRIFT_FROM = 28  # the first day of week five


def _run(*args: str) -> str:
    """A relay command that must succeed (exit code 0)."""
    return relay_command(*args, expect=(0,))


def _deploy(mode: str, versions: str, message: str) -> None:
    """Set production's deployment of churn (sticky by customer) and give the model server the
    second it takes to pick it up."""
    _run(
        "deploy", "set", "churn", "--env", "production", mode, versions,
        "--sticky-key", "customer_id", "-m", message,
    )  # fmt: skip
    time.sleep(1.5)


ALERTS = """\
alerts:
  - name: drift
    model: churn
    env: production
    figure: drift_share
    above: 0.3
    window: week
    severity: warning
    webhook: {hook}
  - name: accuracy
    model: churn
    env: production
    figure: accuracy
    below: 0.74
    window: week
    severity: critical
    webhook: {hook}
"""
# the expert's change: the first day's table, calling the valuable customers from 0.5 (was 0.6)
DECISIONS_V2 = DECISIONS.replace('score: ">= 0.6"', 'score: ">= 0.5"')
assert DECISIONS_V2 != DECISIONS


@dataclass
class Week:
    """What one simulated week showed."""

    number: int
    start: datetime
    scored: int = 0
    canary: int = 0
    drift_share: float | None = None
    accuracy: float | None = None
    events: list[str] = field(default_factory=list)


@dataclass
class Story:
    """What act two did, for the summary and the tests."""

    weeks: list[Week] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    retrained: str = ""
    winner: str = ""
    report: Path | None = None


def live_eight_weeks(platform: Platform, scale: Scale, day0: datetime) -> Story:
    """Act two, on the store act one built (churn/1 or /2 in production, the team signed up)."""
    story = Story()
    hooks = Hooks()
    console.print(
        "\n[bold]Eight weeks in production[/], simulated: every day's customers are scored "
        "through `relay serve churn@production --replay`, stamped with their day; outcomes "
        f"arrive {LABEL_LAG} days late; the market moves from week 5."
    )
    _prepare(hooks)
    port = free_port()
    server = start_model_server(port, "--replay")
    traffic = Traffic(f"http://127.0.0.1:{port}", scale, hooks)
    try:
        for number in range(1, WEEKS + 1):
            week = _live_week(story, traffic, platform, number, day0)
            story.weeks.append(week)
        story.webhooks = list(hooks.received)
        _decide_today(story, traffic, platform)
    finally:
        server.terminate()
        server.wait(timeout=30)
        hooks.close()
    story.report = _risk_report()
    return story


def _prepare(hooks: Hooks) -> None:
    """The rules of the eight weeks: alerts with a webhook, retraining on the accuracy alert,
    customers kept on one variant by their id, and the CRM's features registered."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "alerts.yaml"
        rules.write_text(ALERTS.format(hook=hooks.url))
        _run("alerts", "set", str(rules))
    _run(
        "schedules", "add", "retrain", "--pipeline", "relayml.demo.retrain:retrain",
        "--on", "alert:accuracy",
    )  # fmt: skip
    _run(
        "deploy", "set", "churn", "--env", "production", "--sticky-key", "customer_id",
        "-m", "the CRM sends customer_id: one customer, one variant",
    )  # fmt: skip


def _live_week(
    story: Story, traffic: Traffic, platform: Platform, number: int, day0: datetime
) -> Week:
    start = day0 + timedelta(days=7 * (number - 1))
    week = Week(number, start)
    for offset in range(7):
        index = 7 * (number - 1) + offset
        scored = traffic.day(start + timedelta(days=offset), 1000 + index, index >= DRIFT_FROM)
        week.scored += len(scored)
        if story.retrained:
            week.canary += int((scored["variant_version"] == int(story.retrained)).sum())
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    end = midnight + timedelta(days=7) - timedelta(seconds=1)  # the week's last day, 23:59:59
    time.sleep(0.6)  # the model server writes its prediction log every 0.2 s here
    traffic.outcomes_known_by(end)
    version = traffic.load_crm()
    if number == 1:
        _register_features(version)
    results = relay.get_backend().run_monitors(PROJECT, end)
    for result in results:
        if result["rule"] == "drift":
            week.drift_share = result["value"]
        elif result["rule"] == "accuracy":
            week.accuracy = result["value"]
        if result["outcome"] == "fired":
            week.events.append(f"alert {result['rule']} fired")
        elif result["outcome"] == "still firing":
            week.events.append(f"{result['rule']} alert still open")
    _print_week(week)
    delivered = traffic.hooks.received[traffic.heard :]
    traffic.heard += len(delivered)
    for payload in delivered:
        console.print(
            f"  webhook -> on-call: {payload.get('status')} {payload.get('rule')!r}: "
            f"{payload.get('message', '')}",
            markup=False,
            highlight=False,
        )
    if any(e == "alert accuracy fired" for e in week.events) and not story.retrained:
        story.retrained = _retrain(traffic.scale)
        week.events.append(f"retrained: churn/{story.retrained}, canary 20%")
    if number == 6:
        week.events.append(_expert_week(platform))
    return week


def _print_week(week: Week) -> None:
    drift = "-" if week.drift_share is None else f"{week.drift_share:.0%}"
    accuracy = "-" if week.accuracy is None else f"{week.accuracy:.3f}"
    events = "; ".join(week.events) or "quiet"
    console.print(
        f"Week {week.number} ({week.start:%b %d}): {week.scored} customers scored, drift share "
        f"{drift}, accuracy {accuracy} (outcomes so far) -> {events}"
    )


def _register_features(version: str) -> None:
    """Dana, the data engineer, registers the CRM features and checks them."""
    console.print(
        f"\n[bold]Data engineer[/]: the CRM snapshots are loaded weekly ({version}); their "
        "features are registered and checked"
    )
    module = Path(__file__).with_name("crm_features.py")
    _run("features", "apply", str(module), "--yes")
    _run("features", "check", "crm")
    console.print()


def _retrain(scale: Scale) -> str:
    """The accuracy alert's schedule runs the retraining pipeline; the new version is
    evaluated on a refreshed holdout, staged and sent a fifth of production as a canary."""
    console.print(
        "\n[bold]Retraining[/]: the accuracy alert fired and its schedule starts the pipeline "
        "(what relay server's scheduler does on its next tick)"
    )
    _run("schedules", "tick", "--wait")
    versions = relay.get_backend().list_model_versions(PROJECT, "churn")
    newest = versions[0]
    console.print(
        f"The pipeline registered churn/{newest.version}, trained on the last week of scored "
        "customers with their CRM features as known when scored (relay.features.training_frame)"
    )
    console.print(
        "[bold]Data engineer[/]: a refreshed holdout of recently renewed customers "
        "(customers_holdout@2); both versions are evaluated on it"
    )
    holdout = customers(scale.holdout, 4242, drifted=True, first_id=900_000)
    relay.log_dataset("customers_holdout", holdout.drop(columns=["customer_id"]))
    production = relay.get_backend().get_model_version(PROJECT, "churn@production")
    for ref in (f"churn/{production.version}", f"churn/{newest.version}"):
        relay.evaluate(
            ref, "customers_holdout@latest", "churned", by=["region"], dataset="customers_holdout"
        )
    staged = relay.promote(f"churn/{newest.version}", to="staging", reason="retrained on drift")
    console.print(f"churn/{newest.version} -> staging: [green]{staged.status}[/]")
    _deploy("--canary", f"churn/{newest.version}:20", "retrained after the accuracy alert")
    console.print()
    return str(newest.version)


def _expert_week(platform: Platform) -> str:
    """Sam, the subject-matter expert, flags answers that look wrong and changes a rule."""
    console.print(
        "\n[bold]Subject-matter expert[/] (sam, own sign-in): flags two answers that look "
        "wrong, and calls the valuable customers sooner"
    )
    frame = relay.production_frame("churn", env="production")
    odd = frame[(frame["input.contract"] == "yearly") & (frame["score"] < 0.1)].tail(2)
    sam = platform.client("sam")
    try:
        for prediction_id in odd["prediction_id"]:
            flag = sam.flag_prediction(
                PROJECT,
                str(prediction_id),
                "unexpected",
                comment="yearly customers are leaving for the competitor's offer",
            )
            console.print(f"  Flag {flag.id}: prediction {prediction_id} is unexpected")
        table = sam.set_decision_table(PROJECT, "churn", DECISIONS_V2)
    finally:
        sam.close()
    console.print(
        f"  decision table revision {table.revision}: 'keep the valuable' now calls from a "
        "score of 0.5 (was 0.6)"
    )
    console.print()
    return f"sam flagged {len(odd)}, decision table revision {table.revision}"


def _decide_today(story: Story, traffic: Traffic, platform: Platform) -> None:
    """Today, live: an A/B test between the version in production and the retrained one."""
    backend = relay.get_backend()
    holder = backend.get_model_version(PROJECT, "churn@production").version
    challenger = story.retrained
    console.print(
        f"\n[bold]Today[/]: DevOps opens an A/B test, churn/{holder} against churn/{challenger}, "
        f"on today's {traffic.scale.today} customers (live); their renewals are known a month "
        "on, and the simulation skips ahead to them"
    )
    _deploy(
        "--ab", f"churn/{holder}:50,churn/{challenger}:50",
        "does the retrained version keep more customers?",
    )  # fmt: skip
    people = customers(traffic.scale.today, 777, drifted=True, first_id=traffic.next_id)
    answers = traffic.score(people, None)
    relay.log_outcomes(answers["prediction_ids"], people["churned"].tolist(), model="churn")
    time.sleep(1.0)  # the server writes its prediction log every 0.2 s here
    _run("deploy", "results", "churn", "--env", "production")
    shipped = relay_command("deploy", "promote-winner", "churn", "--env", "production")
    if "waits for approval" not in shipped:  # no winner, or it failed the production gates
        console.print(f"churn/{holder} keeps production: the A/B test shipped nothing")
        story.winner = f"churn/{holder} (kept)"
        return
    story.winner = _approve(platform, f"churn/{challenger}")
    _run("deploy", "list")  # the approval moved the alias: production serves the winner alone


def _approve(platform: Platform, ref: str) -> str:
    """Rita, the risk manager, approves the winner for production with her own token."""
    decided = rita_approves(platform, PROJECT, ref, "won the A/B test; gates pass")
    console.print(f"rita (risk manager, own token) approved {ref} -> production: {decided.status}")
    return ref


def _risk_report() -> Path:
    """The model risk report of the version now in production, for the risk manager."""
    local: Any = relay.get_backend()
    home = Path(local.settings.home)
    out = home / "churn-risk-report.html"
    console.print("\n[bold]Risk manager[/]: the model risk report of what production runs now")
    _run("report", "model", "churn", "-o", str(out))
    return out


def summary(story: Story) -> Table:
    """The eight weeks at a glance."""
    table = Table(title="churn in production: eight weeks, then today")
    for column in ("week", "from", "scored", "canary", "drift share", "accuracy", "what happened"):
        table.add_column(column, justify="right" if column in ("scored", "canary") else "left")
    for week in story.weeks:
        table.add_row(
            str(week.number),
            f"{week.start:%Y-%m-%d}",
            str(week.scored),
            str(week.canary) if week.canary else "",
            "-" if week.drift_share is None else f"{week.drift_share:.0%}",
            "-" if week.accuracy is None else f"{week.accuracy:.3f}",
            "; ".join(week.events) or "quiet",
        )
    table.add_row("today", "", "", "", "", "", f"A/B test; {story.winner} promoted")
    return table
