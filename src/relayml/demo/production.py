"""The churn model in production: served, decided on, watched, flagged, explained.

Called by churn_demo.py once a version is in production; runs on the same store. It starts a real
model server (`relay serve churn@production`), sends next month's customers to it, records which
ones churned, and shows what each role gets: decisions and KPIs for the business, drift and
performance for data scientists, an alert for DevOps, a flag and an explanation for the expert.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console

import relayml as relay

console = Console()
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]
DECISIONS = """\
hit_policy: first
default: no action
rules:
  - name: keep the valuable
    when: {score: ">= 0.6", monthly_charges: ">= 80"}
    action: call
  - name: nudge
    when: {score: ">= 0.35"}
    action: email
"""
ALERTS = """\
alerts:
  - name: inputs drift
    model: churn
    env: production
    figure: drift_share
    above: 0.3
    window: day
    severity: warning
  - name: no traffic
    model: churn
    figure: traffic
    below: 1
    window: hour
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_ENV = dict(os.environ)


def _relay(*args: str) -> str:
    """Run a relay command on the demo's store and print what it shows."""
    done = subprocess.run(
        [sys.executable, "-m", "relayml.cli", *args, "-p", "churn"],
        capture_output=True,
        text=True,
        env={**_ENV, "COLUMNS": "120"},
    )
    console.print(f"[dim]$ relay {' '.join(args)}[/]")
    console.print(done.stdout.rstrip(), markup=False, highlight=False)
    if done.returncode not in (0, 1):
        console.print(done.stderr.rstrip(), markup=False, highlight=False)
    return done.stdout


def _start_server(port: int) -> subprocess.Popen[bytes]:
    env = {**_ENV, "RELAY_PREDICTION_FLUSH_INTERVAL": "0.2"}
    server = subprocess.Popen(
        [sys.executable, "-m", "relayml.cli", "serve", "churn@production", "-p", "churn",
         "--port", str(port), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).is_success:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError("the model server did not start")


def run_in_production(next_month: pd.DataFrame, home: str | None = None) -> dict[str, Any]:
    """Serve churn@production, send it next month's customers, and monitor what happens.

    The relay commands run as child processes on the same store: `home` (else RELAY_HOME).
    """
    if home is not None:
        _ENV["RELAY_HOME"] = str(Path(home).resolve())
    console.print("\n[bold]Production[/]: decisions, serving, outcomes, monitoring")
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "decisions.yaml"
        table.write_text(DECISIONS)
        _relay("decisions", "test", "churn", str(table), "--data", "customers_holdout@latest")
        _relay("decisions", "apply", "churn", str(table))
        alerts = Path(tmp) / "alerts.yaml"
        alerts.write_text(ALERTS)
        _relay("alerts", "set", str(alerts))
    port = _free_port()
    server = _start_server(port)
    try:
        url = f"http://127.0.0.1:{port}"
        rows = next_month[FEATURES].to_dict("records")
        answers: dict[str, list[Any]] = {"prediction_ids": [], "predictions": [], "decisions": []}
        for start in range(0, len(rows), 250):  # the CRM scores customers in batches
            body = httpx.post(url + "/predict", json={"instances": rows[start : start + 250]})
            body.raise_for_status()
            for key in answers:
                answers[key] += body.json()[key]
        calls = answers["decisions"].count("call")
        console.print(
            f"Served {len(rows)} customers: {calls} to call, "
            f"{answers['decisions'].count('email')} to e-mail (decision table revision 1)"
        )
        known = len(rows) // 2  # a month later, half of them have renewed or left
        truth = next_month["churned"].tolist()[:known]
        relay.log_outcomes(answers["prediction_ids"][:known], truth)
        console.print(f"Outcomes recorded for {known} customers (relay.log_outcomes)")
        time.sleep(1.0)  # the server writes its prediction log every 0.2 s here
        first = answers["prediction_ids"][0]
        console.print("\n[bold]Subject-matter expert[/]: why this one, and a flag")
        _relay("explain", first)
        _relay("feedback", "flag", first, "--unexpected", "-m", "long-time customer, check it")
        console.print("\n[bold]Data scientist[/]: drift against the training data, performance")
        _relay("monitor", "drift", "churn", "--env", "production")
        _relay("monitor", "performance", "churn", "--env", "production")
        console.print("\n[bold]Business[/]: KPIs in their units")
        _relay("monitor", "kpis", "churn", "--env", "production")
        console.print("\n[bold]DevOps[/]: alert rules evaluated now (cron: relay monitor run)")
        _relay("monitor", "run")
        metrics = httpx.get(url + "/metrics").text
        served = [line for line in metrics.splitlines() if line.startswith("relay_predictions_t")]
        console.print("From /metrics: " + "; ".join(served))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return answers
