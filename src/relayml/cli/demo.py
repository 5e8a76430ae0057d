"""`relay demo`: the churn project's whole life cycle, narrated, on the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    fast: Annotated[
        bool,
        typer.Option(
            "--fast", help="Less traffic in the eight simulated weeks (about half the time)."
        ),
    ] = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="Keep relay server running at the end, signed in per role (Ctrl-C stops it).",
        ),
    ] = True,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of relay server (a free one if taken).")
    ] = 8080,
    home: Annotated[
        Path | None,
        typer.Option(
            help="The store's folder (default: RELAY_HOME, else ./.relay).", show_default=False
        ),
    ] = None,
) -> None:
    """Run the whole story of a churn model, from business question to retrained winner.

    The subject-matter expert opens the project "reduce customer churn by 10%" with its KPIs; the
    data engineer builds the customer data with a pipeline; the data scientist trains, compares,
    registers and evaluates two models; the gates run and the risk manager approves with her own
    sign-in; the model is served. Then eight weeks of production are simulated (replayed
    through `relay serve --replay`): drift from week 5, outcomes arriving late, alerts and a
    webhook, the retraining pipeline the accuracy alert starts, a canary, the expert's flags
    and a changed decision rule; today an A/B test picks the winner, the risk manager approves
    it, and the risk report is written. It ends with a summary and relay server running with all
    of it, each person's sign-in in <home>/demo-tokens.env.

    Examples:
      relay demo                       (about 3 minutes on 2 cores, then serves on :8080)
      relay demo --fast --no-serve --home /tmp/churn-demo
    """
    from relayml.demo.story import run_demo

    run_demo(fast=fast, serve=serve, port=port, home=None if home is None else str(home))
