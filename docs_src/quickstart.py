import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import relayml as relay

relay.init(project="churn", business_question="reduce customer churn by 10%",
           kpis=[{"name": "churn_rate", "unit": "%", "direction": "decrease", "target": -10}])

rng = np.random.default_rng(0)  # 600 customers: short tenure and high charges tend to leave
tenure, charges = rng.integers(1, 72, 600), rng.uniform(20, 120, 600).round(2)
leaves = rng.random(600) < 1 / (1 + np.exp((tenure - 20) / 8 - (charges - 70) / 25))
table = pd.DataFrame({"tenure": tenure, "monthly_charges": charges, "churned": leaves.astype(int)})
relay.log_dataset("customers", table[:500])              # versioned and profiled: customers@1
relay.log_dataset("customers_holdout", table[500:])
X, y = table[["tenure", "monthly_charges"]], table["churned"]

with relay.start_run(experiment="baseline") as run:
    run.log_input("customers@latest")                    # lineage: data -> run -> model
    model = LogisticRegression().fit(X[:500], y[:500])
    version = run.log_model(model, "churn", input_example=X[:5])          # churn/1

evaluation = relay.evaluate(version.ref, "customers_holdout@latest", target="churned")
relay.promote(version.ref, to="staging", reason=f"ROC AUC {evaluation.metrics['roc_auc']:.2f}")
staged = relay.load_model("churn@staging")
print(f"{version.ref} in staging predicts {staged.predict(X[500:503]).tolist()}")
