import pandas as pd
from sklearn.linear_model import LogisticRegression

import relayml as relay

relay.init(project="churn")
labels = pd.DataFrame({
    "customer_id": [1, 2, 3],
    "event_time": pd.to_datetime(["2026-03-02", "2026-02-20", "2026-02-10"]),
    "churned": [0, 1, 0],
})  # fmt: skip
frame = relay.features.training_frame(
    labels, ["customer:tenure", "customer:monthly_charges"], name=None
)
X = frame[["tenure", "monthly_charges"]].astype(float)  # columns named by feature
model = LogisticRegression().fit(X, frame["churned"])
version = relay.log_model(
    model, "churn_online", X.head(2),
    feature_inputs=["customer:tenure", "customer:monthly_charges"],  # checked against the registry
)  # fmt: skip
print(f"{version.ref} looks up", ", ".join(version.details["feature_inputs"]["columns"].values()))
