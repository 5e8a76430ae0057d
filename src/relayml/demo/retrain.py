"""The churn model's retraining pipeline: what an accuracy alert starts.

The demo schedules it on the accuracy alert (`relay schedules add retrain --pipeline
relayml.demo.retrain:retrain --on alert:accuracy`); `relay server`'s scheduler (or `relay
schedules tick`) then runs it when the alert fires. It trains on production itself: the customers
the model scored in the last `days` days whose outcome has arrived (relay.production_frame), with
their CRM features joined point in time as of what was known when they were scored (the feature
set `crm`), and registers the new version with its training data's lineage.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

import relayml as relay
from relayml.errors import InvalidInput

PROJECT = "churn"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]


@relay.step(cache=False)  # production moves on between runs: never reuse an old read
def scored_customers(days: int) -> pd.DataFrame:
    """Who production scored in the last `days` days (of its log) and whether they churned."""
    relay.init(project=PROJECT)
    frame = relay.production_frame("churn", env="production")
    known = frame[frame["outcome"].notna() & frame.get("request_key", pd.Series()).notna()]
    if known.empty:
        raise InvalidInput(
            "no scored customer of churn in production has an outcome yet: nothing to learn from."
        )
    recent = known[known["time"] > known["time"].max() - timedelta(days=days)]
    return pd.DataFrame(
        {
            "customer_id": recent["request_key"].astype(str).to_numpy(),
            "event_time": recent["time"].to_numpy(),
            "churned": recent["outcome"].astype(int).to_numpy(),
        }
    )


@relay.step(cache=False)
def training_set(scored: pd.DataFrame) -> pd.DataFrame:
    """Each scored customer with the CRM's features as known when scored (point in time)."""
    relay.init(project=PROJECT)
    frame = relay.features.training_frame(
        scored, [f"crm:{name}" for name in FEATURES], as_of_known=True, name="churn_retraining"
    )
    return frame.dropna(subset=FEATURES).reset_index(drop=True)


@relay.step(cache=False)
def train(frame: pd.DataFrame) -> pd.DataFrame:
    """Fit the churn model on recent production, in a run of its own, and register it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from relayml.demo.story import with_preprocessing

    relay.init(project=PROJECT)
    X = frame[FEATURES].astype({"tenure_months": "int64", "support_calls": "int64"})
    X = X.astype({"contract": object, "region": object})
    y = frame["churned"].astype(int)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    model = with_preprocessing(LogisticRegression(C=1.0, max_iter=500), scale=True)
    with relay.start_run(experiment="churn-retraining", name="retrained_on_production") as run:
        run.log_input("churn_retraining@latest")
        run.log_params({"model": "logistic_regression", "C": 1.0, "rows": len(X_train)})
        model.fit(X_train, y_train)
        proba = model.predict_proba(X_test)[:, 1]
        run.log_metrics(
            {
                "auc": float(roc_auc_score(y_test, proba)),
                "accuracy": float(accuracy_score(y_test, (proba >= 0.5).astype(int))),
            }
        )
        version = run.log_model(
            model, "churn", input_example=X_train.head(5), datasets=["churn_retraining"]
        )
    return pd.DataFrame({"model": ["churn"], "version": [version.version], "run": [run.id]})


@relay.pipeline
def retrain(days: int = 7) -> dict[str, object]:
    """Retrain churn on the last `days` days of scored, labelled production traffic."""
    return {"model": train(training_set(scored_customers(days)))}
