"""Run by a real mlflow interpreter: fill a tracking store for the importer's tests.

Usage: python write_store.py TRACKING_URI [ARTIFACT_ROOT]; prints what it wrote as JSON.
"""

import json
import sys
import warnings

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore")
uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)
artifact_root = sys.argv[2] if len(sys.argv) > 2 else None
experiment_id = client.create_experiment(
    "churn experiment", artifact_location=artifact_root, tags={"team": "risk"}
)
mlflow.set_experiment(experiment_id=experiment_id)
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.2], [0.9, 0.8], [0.1, 0.3], [0.7, 0.6]])
y = np.array([0, 1, 0, 1, 0, 1])
example = pd.DataFrame(X, columns=["x1", "x2"])
written = {"experiment_id": experiment_id, "runs": {}}
model_kwargs = {"serialization_format": "cloudpickle", "input_example": example}
if mlflow.__version__.startswith("3"):
    model_kwargs["name"] = "model"
else:
    model_kwargs["artifact_path"] = "model"
for index, c in enumerate([0.5, 2.0]):
    with mlflow.start_run(run_name=f"fit-{index}") as run:
        mlflow.log_params({"C": c, "solver": "lbfgs"})
        mlflow.set_tags({"stage": "trial", "index": str(index)})
        for step in range(5):
            client.log_metric(
                run.info.run_id,
                "loss",
                1.0 / (step + 1 + index),
                1_700_000_000_000 + step * 1000,
                step,
            )
        client.log_metric(run.info.run_id, "auc", 0.8 + index / 10, 1_700_000_100_000, 0)
        mlflow.log_text(f"notes of run {index}\n", "notes/readme.txt")
        model = LogisticRegression(C=c).fit(example, y)
        mlflow.sklearn.log_model(model, registered_model_name="churn", **model_kwargs)
        proba = model.predict_proba(example[:2]).tolist()
        written["runs"][run.info.run_id] = {"C": c, "proba": proba}
for run_id, facts in written["runs"].items():
    info = client.get_run(run_id).info
    facts.update(name=info.run_name, start_time=info.start_time, end_time=info.end_time)
client.set_registered_model_alias("churn", "champion", "2")
client.set_registered_model_tag("churn", "owner", "risk-team")
client.set_model_version_tag("churn", "1", "validated", "yes")
print(json.dumps(written))
