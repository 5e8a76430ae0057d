from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

import relayml as relay

relay.init(project="churn")
relay.log_dataset("customer_events", pd.DataFrame({
    "customer_id": [1, 1, 2, 2, 3],
    "event_time": pd.to_datetime(["2026-01-01", "2026-03-01", "2026-01-15", "2026-02-20", "2026-02-01"]),
    "created_at": pd.to_datetime(["2026-01-02", "2026-03-05", "2026-01-15", "2026-02-21", "2026-02-01"]),
    "tenure": [10, 12, 3, 4, 30],
    "monthly_charges": [70.0, 75.0, 40.0, 42.0, 99.0],
}))  # fmt: skip
relay.features.apply(Path(__file__).with_name("features_define.py"))  # the CLI: relay features apply ... --yes

labels = pd.DataFrame({
    "customer_id": [1, 2, 3, 4],
    "event_time": pd.to_datetime(["2026-03-02", "2026-02-20", "2026-02-10", "2026-02-10"]),
    "offer": [5.0, 0.0, 10.0, 0.0],  # a request field, for the on-demand feature
    "churned": [0, 1, 0, 1],
})  # fmt: skip
frame = relay.features.training_frame(
    labels,
    ["customer:tenure", "customer:monthly_charges", "offer:charges_after_offer"],
    as_of_known=True,  # only values already written at each row's time
    name="churn_training",  # logged as a dataset version, with lineage to the features
)
print(frame[["customer_id", "tenure", "monthly_charges", "charges_after_offer"]])
X = frame[["tenure", "monthly_charges"]].fillna(0).astype(float)
model = LogisticRegression().fit(X, frame["churned"])
relay.log_model(model, "churn_features", X.head(2), datasets=[frame.attrs["dataset"]])
print(relay.features.impact("customer:tenure"))  # which models break if tenure changes
