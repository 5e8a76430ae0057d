"""The relayml demo: a churn project from business question to compared models.

Run it with `make demo` (or `python examples/churn_demo.py --help`). It works on the embedded
default store in ./.relay: no set-up needed.
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import relayml as relay

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
        "target": 500.0,
        "description": "Customers kept per month by retention offers the model triggers.",
    },
    {
        "name": "revenue_saved",
        "unit": "EUR",
        "direction": "increase",
        "target": 250000.0,
        "description": "Yearly revenue of the retained customers, net of the offers' cost.",
    },
]


def customer_table(rows: int = 5000, seed: int = 7) -> pd.DataFrame:
    """A deterministic synthetic customer table with a churn label."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    monthly = rng.normal(65, 20, rows).clip(10, 200).round(2)
    support_calls = rng.poisson(1.5, rows)
    contract = rng.choice(["monthly", "yearly", "two_year"], rows, p=[0.55, 0.3, 0.15])
    region = rng.choice(["north", "south", "east", "west"], rows)
    logit = (
        -1.2
        - 0.045 * tenure
        + 0.018 * (monthly - 65)
        + 0.45 * support_calls
        + np.where(contract == "monthly", 1.1, np.where(contract == "yearly", -0.3, -1.2))
        + rng.normal(0, 0.6, rows)
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "support_calls": support_calls,
            "contract": contract,
            "region": region,
            "churned": churned,
        }
    )


def features(df: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: numbers as they are, categories one-hot encoded."""
    return pd.get_dummies(df.drop(columns=["churned"]), columns=["contract", "region"], dtype=float)


def train_and_log(name: str, model: object, params: dict[str, object], data: dict) -> dict:
    """Train one model in its own run and log params, metrics and artifacts."""
    with relay.start_run(experiment="churn-baselines", name=name, tags={"demo": "true"}) as run:
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
        if hasattr(model, "staged_predict_proba"):  # a learning curve, point by point
            for step, staged in enumerate(model.staged_predict_proba(data["X_test"])):
                run.log_metric(
                    "test_auc_by_trees", roc_auc_score(data["y_test"], staged[:, 1]), step
                )
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "predictions_sample.csv"
            sample = data["X_test"].head(20).assign(churn_probability=proba[:20])
            sample.to_csv(report, index=False)
            run.log_artifact(report, "evaluation/predictions_sample.csv")
            run.log_text(json.dumps(metrics, indent=2), "evaluation/metrics.json")
    return {"run": run, **metrics}


def free_port(preferred: int) -> int:
    """The preferred port if it is free, else any free loopback port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-serve", action="store_true", help="stop after the job")
    parser.add_argument("--port", type=int, default=8080, help="server port (default 8080)")
    parser.add_argument("--home", default=None, help="store folder (default: RELAY_HOME or .relay)")
    args = parser.parse_args()

    project = relay.init(
        project="churn",
        home=args.home,
        description="Predict which customers will leave next month.",
        business_question="reduce customer churn by 10%",
        kpis=KPIS,
    )
    console.print(f"[bold]Project[/] {project.name}: {project.business_question}")
    for kpi in project.kpis:
        console.print(f"  KPI {kpi.name} ({kpi.unit}), {kpi.direction}, target {kpi.target:g}")

    df = customer_table()
    X, y = features(df), df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    data = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}
    console.print(f"Customer table: {len(df)} rows, churn rate {y.mean():.1%}")

    results = [
        train_and_log(
            "logistic_regression",
            make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)),
            {"C": 1.0},
            data,
        ),
        train_and_log(
            "gradient_boosting",
            GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
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

    if args.no_serve:
        return
    import uvicorn

    from relayml.api import create_app
    from relayml.backend import LocalBackend
    from relayml.config import get_settings

    port = free_port(args.port)
    settings = get_settings(home=args.home)
    console.print(
        f"\nServing relayml at [bold]http://127.0.0.1:{port}[/] "
        f"(API docs at http://127.0.0.1:{port}/docs). Press Ctrl-C to stop."
    )
    uvicorn.run(
        create_app(LocalBackend(settings)), host="127.0.0.1", port=port, log_level="warning"
    )


if __name__ == "__main__":
    main()
