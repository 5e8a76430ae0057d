import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import relayml as relay

rng = np.random.default_rng(0)  # 500 customers: short tenure and high charges tend to leave
tenure = rng.integers(1, 72, 500)
charges = rng.uniform(20, 120, 500).round(2)
leaves = rng.random(500) < 1 / (1 + np.exp((tenure - 20) / 8 - (charges - 70) / 25))
X_train = pd.DataFrame({"tenure": tenure, "monthly_charges": charges})
y_train = pd.Series(leaves.astype(int), name="churned")
model = LogisticRegression()

relay.init(project="churn")
with relay.start_run(experiment="baseline") as run:
    model.fit(X_train, y_train)
    version = run.log_model(model, "churn", input_example=X_train.head(5))   # churn/1, churn/2, …
print(f"logged {version.ref}")
