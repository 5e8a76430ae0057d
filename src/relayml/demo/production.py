"""The churn model in production: served, decided on, watched, flagged, explained.

Called by churn_demo.py once a version is in production; runs on the same store. It starts a real
model server (`relay serve churn@production`), sends next month's customers to it, records which
ones churned, and shows what each role gets: decisions and KPIs for the business, drift and
performance for data scientists, an alert for DevOps, a flag and an explanation for the expert.
"""

from __future__ import annotations

import contextlib
import functools
import io
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(**variables: str) -> dict[str, str]:
    """What a relay command on the demo's store runs with (the SDK's store, not RELAY_HOME's)."""
    from relayml.config import child_environment

    local: Any = relay.get_backend()
    return child_environment(local.settings, **variables)


def relay_command(*args: str, expect: tuple[int, ...] = (0, 1)) -> str:
    """Run a relay command on the demo's store and print what it shows; a RuntimeError when
    it exits with a code other than those expected (1: an alert is active, a gate failed).

    The command runs in this process, as `relay` would run it (the same entry point and
    environment, its own output, its exit code): the demo has already imported what a new
    process would import again.
    """
    from relayml.cli import app_for
    from relayml.config import process_environment

    argv = [*args, "-p", "churn"]
    out, err = io.StringIO(), io.StringIO()
    with (
        process_environment(_environment(COLUMNS="120")),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            app_for(argv)(args=argv, prog_name="relay")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    console.print(f"[dim]$ relay {' '.join(args)}[/]")
    console.print(out.getvalue().rstrip(), markup=False, highlight=False)
    if code != 0 and err.getvalue().strip():
        console.print(err.getvalue().rstrip(), markup=False, highlight=False)
    if code not in expect:
        raise RuntimeError(f"relay {' '.join(args)} exited with {code}")
    return out.getvalue()


@functools.cache
def loopback() -> httpx.Client:
    """One HTTP client for the demo's own servers on 127.0.0.1. A call of httpx.get or .post
    builds a client, and with it a TLS context it never uses here: about 30 ms of CPU each."""
    return httpx.Client(timeout=60)


def start_model_server(port: int, *args: str) -> subprocess.Popen[bytes]:
    """`relay serve churn@production` on the demo's store (with args, e.g. --replay)."""
    env = _environment(RELAY_PREDICTION_FLUSH_INTERVAL="0.2")
    server = subprocess.Popen(
        [sys.executable, "-m", "relayml.cli", "serve", "churn@production", "-p", "churn",
         "--port", str(port), "--no-access-log", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                if loopback().get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).is_success:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the model server did not start")
    except BaseException:  # Ctrl-C while waiting too: never leave the server behind
        server.kill()
        server.wait()
        raise


def run_in_production(next_month: pd.DataFrame, day: datetime | None = None) -> dict[str, Any]:
    """Serve churn@production, send it next month's customers, and monitor what happens.

    The relay commands and the model server work on the store relay.init() chose.
    With `day` (the first day in production, in the past) the server replays: the customers
    are logged on that day, and the alert rules are evaluated as of that day.
    """
    console.print("\n[bold]Production[/]: decisions, serving, outcomes, monitoring")
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "decisions.yaml"
        table.write_text(DECISIONS)
        relay_command(
            "decisions", "test", "churn", str(table), "--data", "customers_holdout@latest"
        )
        relay_command("decisions", "apply", "churn", str(table))
        alerts = Path(tmp) / "alerts.yaml"
        alerts.write_text(ALERTS)
        relay_command("alerts", "set", str(alerts))
    port = free_port()
    server = start_model_server(port, *(("--replay",) if day is not None else ()))
    stamp = {} if day is None else {"X-Relay-Time": day.isoformat()}
    try:
        url = f"http://127.0.0.1:{port}"
        rows = next_month[FEATURES].to_dict("records")
        answers: dict[str, list[Any]] = {"prediction_ids": [], "predictions": [], "decisions": []}
        for start in range(0, len(rows), 250):  # the CRM scores customers in batches
            body = loopback().post(
                url + "/predict", json={"instances": rows[start : start + 250]}, headers=stamp
            )
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
        relay_command("explain", first)
        relay_command(
            "feedback", "flag", first, "--unexpected", "-m", "long-time customer, check it"
        )
        console.print("\n[bold]Data scientist[/]: drift against the training data, performance")
        relay_command("monitor", "drift", "churn", "--env", "production")
        relay_command("monitor", "performance", "churn", "--env", "production")
        console.print("\n[bold]Business[/]: KPIs in their units")
        relay_command("monitor", "kpis", "churn", "--env", "production")
        when = "now" if day is None else "as of that day"
        console.print(f"\n[bold]DevOps[/]: alert rules evaluated {when} (cron: relay monitor run)")
        if day is None:
            relay_command("monitor", "run")
        else:  # as of half an hour after those customers were scored
            relay_command(
                "monitor", "run", "--at", f"{day + timedelta(minutes=30):%Y-%m-%dT%H:%M:%S}"
            )
        metrics = loopback().get(url + "/metrics").text
        served = [line for line in metrics.splitlines() if line.startswith("relay_predictions_t")]
        console.print("From /metrics: " + "; ".join(served))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return answers
