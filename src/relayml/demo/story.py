"""The relayml demo: a churn project from business question to compared models.

Run it with `make demo` (or `python examples/churn_demo.py --help`). It works on the embedded
default store in ./.relay: no set-up needed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import relayml as relay
from relayml.demo.production import run_in_production
from relayml.demo.team import (
    PEOPLE,
    Platform,
    approve_through_the_server,
    sign_up_the_team,
    start_platform,
)

console = Console()

KPIS = [
    {
        "name": "churn_rate",
        "unit": "%",
        "direction": "decrease",
        "target": -10.0,
        "description": "Relative change of the monthly churn rate against last year.",
    },
    {
        "name": "customers_retained",
        "unit": "customers",
        "direction": "increase",
        "target": 60.0,
        "description": "Customers kept by retention offers the model triggers (30% of the "
        "contacted churners stay), among the customers scored.",
        "definition": {"type": "confusion_value", "threshold": 0.5, "tp": 0.3},
    },
    {
        "name": "revenue_saved",
        "unit": "EUR",
        "direction": "increase",
        "target": 15000.0,
        "description": "Yearly revenue of the retained customers (EUR 900 each) net of the "
        "offers' cost (EUR 40 per contacted customer), among the customers scored.",
        "definition": {"type": "confusion_value", "threshold": 0.5, "tp": 230.0, "fp": -40.0},
    },
]


def customer_table(rows: int = 5000, seed: int = 7) -> pd.DataFrame:
    """A deterministic synthetic customer table with a churn label."""
    return customers(rows, seed).drop(columns=["customer_id"])


def customers(rows: int, seed: int, drifted: bool = False, first_id: int = 0) -> pd.DataFrame:
    """Customers as the CRM sees them, with whether each one churns (deterministic).

    `drifted`: the market of act two from week 5: prices up by about 25 EUR, more support
    calls, more yearly contracts, and yearly customers now leave more than monthly ones (a
    competitor targets them): more customers leave, and a model trained before the change ranks
    them wrongly.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    monthly = rng.normal(90 if drifted else 65, 20, rows).clip(10, 200).round(2)
    support_calls = rng.poisson(2.5 if drifted else 1.5, rows)
    shares = [0.45, 0.4, 0.15] if drifted else [0.55, 0.3, 0.15]
    contract = rng.choice(["monthly", "yearly", "two_year"], rows, p=shares)
    region = rng.choice(["north", "south", "east", "west"], rows)
    on_monthly, on_yearly = (-0.4, 1.6) if drifted else (1.1, -0.3)
    logit = (
        -1.2
        - 0.045 * tenure
        + 0.018 * (monthly - 65)
        + 0.45 * support_calls
        + np.where(
            contract == "monthly", on_monthly, np.where(contract == "yearly", on_yearly, -1.2)
        )
        + rng.normal(0, 0.6, rows)
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"c{first_id + i:06d}" for i in range(rows)],
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "support_calls": support_calls,
            "contract": contract,
            "region": region,
            "churned": churned,
        }
    )


@relay.step
def generate_customers(rows: int, seed: int) -> pd.DataFrame:
    """Step 1: read the customer table (here: make the deterministic synthetic one)."""
    return customer_table(rows=rows, seed=seed)


@relay.step
def clean_customers(raw: pd.DataFrame) -> pd.DataFrame:
    """Step 2: keep plausible rows only (charges within bounds, known contracts)."""
    valid = raw["monthly_charges"].between(10, 200) & raw["contract"].notna()
    return raw[valid].reset_index(drop=True)


@relay.pipeline
def customer_data(rows: int = 5000, seed: int = 7) -> dict[str, object]:
    """The data pipeline: generate, then clean; its output becomes a dataset version."""
    return {"customers": clean_customers(generate_customers(rows, seed))}


def build_dataset(name: str, rows: int, seed: int) -> tuple[pd.DataFrame, str]:
    """Run the pipeline (cached when nothing changed), log its output as a dataset version."""
    from relayml.pipelines import load_outputs

    run = customer_data.run(rows=rows, seed=seed)
    cached = sum(step.status == "CACHED" for step in run.steps)
    frame = load_outputs(run)["customers"]
    # source= links the version to the run in the lineage graph (pipeline run --produced-->)
    version = relay.log_dataset(name, frame, source={"pipeline_run": run.id})
    console.print(
        f"Pipeline customer_data ({len(run.steps)} steps, {cached} cached) -> {version.ref}: "
        f"{version.rows} rows"
    )
    return frame, version.ref


NUMBERS = ["tenure_months", "monthly_charges", "support_calls"]
CATEGORIES = ["contract", "region"]


def with_preprocessing(estimator: object, scale: bool) -> Pipeline:
    """The model takes the customer table's columns as they are: encoding is part of it."""
    numbers = StandardScaler() if scale else "passthrough"
    prepare = ColumnTransformer(
        [("numbers", numbers, NUMBERS), ("categories", OneHotEncoder(), CATEGORIES)]
    )
    return Pipeline([("prepare", prepare), ("model", estimator)])


def train_and_log(
    name: str, model: object, params: dict[str, object], data: dict[str, Any]
) -> dict[str, Any]:
    """Train one model in its own run: params, metrics, artifacts, and a registered version."""
    with relay.start_run(experiment="churn-baselines", name=name, tags={"demo": "true"}) as run:
        run.log_input("customers@latest")
        run.log_params({"model": name, **params, "rows": len(data["y_train"])})
        model.fit(data["X_train"], data["y_train"])  # type: ignore[attr-defined]
        proba = model.predict_proba(data["X_test"])[:, 1]  # type: ignore[attr-defined]
        predicted = (proba >= 0.5).astype(int)
        metrics = {
            "auc": float(roc_auc_score(data["y_test"], proba)),
            "accuracy": float(accuracy_score(data["y_test"], predicted)),
            "f1": float(f1_score(data["y_test"], predicted)),
            "log_loss": float(log_loss(data["y_test"], proba)),
        }
        run.log_metrics(metrics)
        boosting = model[-1]  # type: ignore[index]
        if hasattr(boosting, "staged_predict_proba"):  # a learning curve, point by point
            encoded = model[0].transform(data["X_test"])  # type: ignore[index]
            for step, staged in enumerate(boosting.staged_predict_proba(encoded)):
                run.log_metric(
                    "test_auc_by_trees", roc_auc_score(data["y_test"], staged[:, 1]), step
                )
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "predictions_sample.csv"
            sample = data["X_test"].head(20).assign(churn_probability=proba[:20].round(4))
            sample.to_csv(report, index=False)
            run.log_artifact(report, "evaluation/predictions_sample.csv")
            run.log_text(json.dumps(metrics, indent=2), "evaluation/metrics.json")
        version = run.log_model(
            model, "churn", input_example=data["X_train"].head(5), datasets=["customers"]
        )
    return {"run": run, "version": version, **metrics}


def ship_the_winner(results: list[dict[str, Any]], holdout: str, port: int) -> Platform:
    """Evaluate both versions on a holdout, compare them in KPIs, promote the better one."""
    console.print("\n[bold]Models[/]: evaluating the registered versions on customers_holdout")
    evaluations = [
        relay.evaluate(
            r["version"].ref, holdout, "churned", by=["region"], dataset="customers_holdout"
        )
        for r in results
    ]
    table = Table(title="churn versions on customers_holdout (2,000 customers)")
    table.add_column("figure")
    for e in evaluations:
        table.add_column(f"churn/{e.version}", justify="right")
    for metric in ("roc_auc", "precision", "recall", "f1"):
        table.add_row(metric, *[f"{e.metrics.get(metric, float('nan')):.3f}" for e in evaluations])
    for kpi in KPIS[1:]:
        name = str(kpi["name"])
        values = [e.kpis[name]["value"] for e in evaluations]
        table.add_row(f"{name} ({kpi['unit']})", *[f"{v:,.0f}" for v in values])
    console.print(table)
    winner = max(evaluations, key=lambda e: e.metrics["roc_auc"])
    ref = f"churn/{winner.version}"

    relay.set_policy(Path(__file__).with_name("relay.yaml"))
    backend = relay.get_backend()
    tokens, tokens_file = sign_up_the_team("churn")
    console.print(
        f"The team: {backend.actor} (data scientist), "
        + ", ".join(f"{n} ({role.replace('_', ' ')})" for n, (role, _) in PEOPLE.items())
        + f"; each has a personal API token and a password for the web pages in {tokens_file} "
        "(readable by you alone)."
    )
    staged = relay.promote(ref, to="staging", reason="best ROC AUC on the holdout")
    console.print(f"{ref} -> staging: [green]{staged.status}[/]")
    asked = relay.promote(ref, to="production", reason="best ROC AUC on the holdout")
    console.print(f"{ref} -> production: [yellow]{asked.status}[/] (waits for {asked.waiting_for})")
    platform = start_platform(tokens, tokens_file, port, schedulers=False)
    approve_through_the_server(platform, "churn", ref, backend.actor)
    console.print(
        "The whole story: [bold]relay models history churn -p churn[/]; "
        f"the gates again: relay check model {ref} --env production -p churn; "
        f"where it came from: relay lineage model_version {ref} -p churn; "
        "who did what, hash-chained: relay audit verify"
    )
    return platform


def main() -> None:
    """`python examples/churn_demo.py` (as `relay demo`)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-serve", action="store_true", help="stop after the job")
    parser.add_argument("--fast", action="store_true", help="less traffic, for tests")
    parser.add_argument("--port", type=int, default=8080, help="server port (default 8080)")
    parser.add_argument("--home", default=None, help="store folder (default: RELAY_HOME or .relay)")
    args = parser.parse_args()
    run_demo(fast=args.fast, serve=not args.no_serve, port=args.port, home=args.home)


def run_demo(
    *, fast: bool = False, serve: bool = True, port: int = 8080, home: str | None = None
) -> None:
    """The whole story: act one (question to production), act two (eight weeks of it)."""
    from relayml.demo.weeks import FAST, FULL, first_day, live_eight_weeks, summary

    day0 = first_day()
    project = relay.init(
        project="churn",
        home=home,
        description="Predict which customers will leave next month.",
        business_question="reduce customer churn by 10%",
        kpis=KPIS,
    )
    console.print(f"[bold]Project[/] {project.name}: {project.business_question}")
    for kpi in project.kpis:
        console.print(f"  KPI {kpi.name} ({kpi.unit}), {kpi.direction}, target {kpi.target:g}")

    df, _ = build_dataset("customers", rows=5000, seed=7)
    X, y = df.drop(columns=["churned"]), df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    data = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}
    console.print(f"Customer table: {len(df)} rows, churn rate {y.mean():.1%}")

    results = [
        train_and_log(
            "logistic_regression",
            with_preprocessing(LogisticRegression(C=1.0, max_iter=500), scale=True),
            {"C": 1.0},
            data,
        ),
        train_and_log(
            "gradient_boosting",
            with_preprocessing(
                GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
                scale=False,
            ),
            {"n_estimators": 100, "max_depth": 3},
            data,
        ),
    ]

    table = Table(title="churn-baselines: test-set comparison")
    for column in ("model", "run", "AUC", "accuracy", "F1", "log loss"):
        table.add_column(column, justify="left" if column in ("model", "run") else "right")
    best = max(results, key=lambda r: r["auc"])
    for r in results:
        style = "bold green" if r is best else ""
        table.add_row(
            r["run"].name,
            r["run"].id[:12],
            f"{r['auc']:.3f}",
            f"{r['accuracy']:.3f}",
            f"{r['f1']:.3f}",
            f"{r['log_loss']:.3f}",
            style=style,
        )
    console.print(table)
    console.print(f"Best by AUC: [bold]{best['run'].name}[/]. Explore: relay runs list -p churn")
    relay.flush()

    build_dataset("customers_holdout", rows=2000, seed=11)  # never seen in training
    platform = ship_the_winner(results, "customers_holdout@latest", port)
    next_month, _ = build_dataset("customers_next_month", rows=1000, seed=23)
    run_in_production(next_month, day=day0)
    story = live_eight_weeks(platform, FAST if fast else FULL, day0)
    console.print()
    console.print(summary(story))
    console.print(f"The risk report: {story.report}")

    platform.stop()
    if not serve:
        return
    # from here on relay server checks the alert rules and runs due schedules itself
    platform = start_platform(platform.tokens, platform.tokens_file, port)
    console.print(
        f"\nServing relayml at [bold]{platform.url}[/] with sign-in required "
        f"(API docs at {platform.url}/docs). Each person's token is in {platform.tokens_file}: "
        f"e.g. `export $(grep RITA {platform.tokens_file} | sed s/_RITA//)` then "
        f"`RELAY_SERVER_URL={platform.url} relay whoami`."
    )
    console.print(
        f"[bold]Web pages[/]: open {platform.url}/ and sign in as any of the team; their "
        f"passwords are the RELAY_PASSWORD_* lines of {platform.tokens_file} (rita: risk "
        "manager, sam: subject-matter expert, devon: DevOps, dana: data engineer, sofia: "
        "software engineer, ari: ML architect, audrey: auditor). Press Ctrl-C to stop."
    )
    platform.wait()


if __name__ == "__main__":
    main()
