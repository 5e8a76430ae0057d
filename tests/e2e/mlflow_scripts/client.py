"""One MLflow client session, run by the real `mlflow` (3.x or 2.x) in its own virtualenv.

MLFLOW_TRACKING_URI names the server (relay server or mlflow server). The script exercises
experiments, runs, batches, inputs, artifacts, autolog, log_model with registration, search,
metric history, the registry with aliases and stages, loading models:/ URIs and error codes, and
prints one JSON object on its last line: what the client read back, without ids and times, so
two servers can be compared. Ids the caller needs to check the server itself are under "ids".
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

MAJOR = int(mlflow.__version__.split(".")[0])
PREFIX = os.environ.get("MLFLOW_TEST_PREFIX", "t")
client = MlflowClient()
out: dict = {"version": mlflow.__version__, "ids": {}, "errors": {}}


def code_of(call) -> str:
    """The MLflow error code a call fails with ('OK' if it does not fail)."""
    try:
        call()
    except MlflowException as exc:
        return str(exc.error_code)
    return "OK"


# -- experiments: create, find, search, rename, tag, delete, restore ---------------------------
name = f"{PREFIX} churn experiment"
exp_id = client.create_experiment(name, tags={"team": "risk"})
out["ids"]["experiment"] = exp_id
exp = client.get_experiment_by_name(name)
out["experiment"] = {"name": exp.name, "tags": {k: v for k, v in exp.tags.items() if k == "team"}}
client.set_experiment_tag(exp_id, "stage", "dev")
out["errors"]["duplicate_experiment"] = code_of(lambda: client.create_experiment(name))
out["errors"]["missing_experiment"] = str(client.get_experiment_by_name(f"{PREFIX} none"))
other = client.create_experiment(f"{PREFIX} scratch")
client.rename_experiment(other, f"{PREFIX} scratch renamed")
client.delete_experiment(other)
deleted = client.get_experiment(other).lifecycle_stage
client.restore_experiment(other)
found = client.search_experiments(filter_string=f"name LIKE '{PREFIX} %'", order_by=["name ASC"])
out["experiments"] = {
    "searched": [e.name for e in found],
    "deleted_stage": deleted,
    "restored_stage": client.get_experiment(other).lifecycle_stage,
    "tags": dict(
        sorted(
            (k, v) for k, v in client.get_experiment(exp_id).tags.items() if k in ("team", "stage")
        )
    ),
}

# -- runs: params, metrics (steps), tags, batch, inputs, artifacts -------------------------------
mlflow.set_experiment(experiment_id=exp_id)
frame = pd.DataFrame({"x1": np.linspace(0, 1, 40), "x2": np.linspace(1, 0, 40) ** 2})
target = (frame["x1"] > 0.5).astype(int)
with mlflow.start_run(run_name="first") as run:
    first = run.info.run_id
    mlflow.log_param("alpha", "0.1")
    mlflow.log_params({"depth": 3, "kind": "logistic"})
    for step in range(5):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"auc": 0.91, "f1": 0.8})
    mlflow.set_tag("team", "risk")
    client.log_batch(
        first,
        metrics=[Metric("batch", float(i), 1_700_000_000_000 + i, i) for i in range(1000)],
        params=[Param("batch_size", "1000")],
        tags=[RunTag("source", "batch")],
    )
    mlflow.log_input(mlflow.data.from_pandas(frame, name="customers"), context="training")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "notes.txt").write_text("hello relay")
        mlflow.log_artifact(str(Path(tmp) / "notes.txt"))
        mlflow.log_artifact(str(Path(tmp) / "notes.txt"), artifact_path="docs")
    mlflow.log_dict({"a": 1}, "config/settings.json")
    out["errors"]["changed_param"] = code_of(lambda: mlflow.log_param("alpha", "0.2"))
second = mlflow.start_run(run_name="second").info.run_id
mlflow.log_param("alpha", "0.1")
mlflow.log_metric("loss", 0.3)
mlflow.log_metric("auc", 0.7)
mlflow.end_run(status="FAILED")
with mlflow.start_run(run_name="third"):
    mlflow.log_param("alpha", "0.5")
    mlflow.log_metric("loss", 0.1)
out["ids"]["runs"] = [first, second]

got = client.get_run(first)
out["run"] = {
    "name": got.info.run_name,
    "status": got.info.status,
    "params": dict(sorted(got.data.params.items())),
    "metrics": dict(sorted(got.data.metrics.items())),
    "tags": {k: v for k, v in sorted(got.data.tags.items()) if k in ("team", "source")},
    "inputs": sorted(d.dataset.name for d in got.inputs.dataset_inputs),
    "input_tags": sorted(t.value for d in got.inputs.dataset_inputs for t in d.tags),
}
out["history"] = [(m.step, m.value) for m in client.get_metric_history(first, "loss")]
out["batch_points"] = len(client.get_metric_history(first, "batch"))
out["second_status"] = client.get_run(second).info.status
out["artifacts"] = sorted((a.path, a.is_dir) for a in client.list_artifacts(first))
out["artifacts_docs"] = sorted(a.path for a in client.list_artifacts(first, "docs"))
with tempfile.TemporaryDirectory() as tmp:
    path = mlflow.artifacts.download_artifacts(
        run_id=first, artifact_path="notes.txt", dst_path=tmp
    )
    out["downloaded"] = Path(path).read_text()
    folder = client.download_artifacts(first, "config", tmp)
    out["downloaded_dict"] = json.loads((Path(folder) / "settings.json").read_text())


# -- search with MLflow's filter syntax and order-by ---------------------------------------------
def names(filter_string: str, order_by: list[str] | None = None, **kw) -> list[str]:
    runs = client.search_runs([exp_id], filter_string, order_by=order_by, **kw)
    return [r.info.run_name for r in runs]


out["search"] = {
    "loss_desc": names("metrics.loss < 0.9", ["metrics.loss DESC"]),
    "param": names("params.alpha = '0.1'", ["attributes.run_name ASC"]),
    "status": names("attributes.status = 'FAILED'"),
    "tag": names("tags.team = 'risk'"),
    "name_like": names("attributes.run_name LIKE 'th%'"),
    "and": names("metrics.auc > 0.8 and params.alpha = '0.1'"),
    "paged": names("", ["metrics.loss ASC"], max_results=2),
}
out["errors"]["bad_filter"] = code_of(lambda: client.search_runs([exp_id], "metrics.loss <<< 3"))
out["errors"]["missing_run"] = code_of(lambda: client.get_run("0" * 32))

# -- autolog, log_model with registration, the registry ------------------------------------------
mlflow.sklearn.autolog(log_models=False, silent=True)
with mlflow.start_run(run_name="autolog") as run:
    LogisticRegression(max_iter=200).fit(frame, target)
auto = client.get_run(run.info.run_id)
out["autolog"] = {
    "params": sorted(k for k in auto.data.params if k in ("C", "max_iter", "penalty")),
    "metrics": sorted(k for k in auto.data.metrics if k.startswith("training_")),
}
mlflow.sklearn.autolog(disable=True)

model = LogisticRegression(max_iter=200).fit(frame, target)
signature = infer_signature(frame, model.predict(frame))
model_name = f"{PREFIX}-churn"
with mlflow.start_run(run_name="train") as run:
    mlflow.log_metric("accuracy", float(model.score(frame, target)))
    kwargs = {"name": "model"} if MAJOR >= 3 else {"artifact_path": "model"}
    info = mlflow.sklearn.log_model(
        model,
        registered_model_name=model_name,
        signature=signature,
        pip_requirements=["scikit-learn"],  # no inference in a subprocess: faster
        **kwargs,
    )
out["ids"]["train_run"] = run.info.run_id
out["ids"]["model"] = model_name
version = client.get_model_version(model_name, "1")
out["version"] = {
    "version": version.version,
    "status": version.status,
    "run": version.run_id == run.info.run_id,
}
client.set_registered_model_alias(model_name, "champion", "1")
client.set_registered_model_tag(model_name, "owner", "risk")
client.set_model_version_tag(model_name, "1", "validated", "yes")
client.update_model_version(model_name, "1", description="first churn model")
by_alias = client.get_model_version_by_alias(model_name, "champion")
staged = client.transition_model_version_stage(model_name, "1", "Staging")
registered = client.get_registered_model(model_name)
out["registry"] = {
    "alias_version": by_alias.version,
    "aliases": sorted(registered.aliases.items()),
    "model_tags": {k: v for k, v in registered.tags.items() if k == "owner"},
    "version_tags": dict(client.get_model_version(model_name, "1").tags),
    "description": client.get_model_version(model_name, "1").description,
    "stage": staged.current_stage,
    "searched": [m.name for m in client.search_registered_models(f"name = '{model_name}'")],
    "versions": [v.version for v in client.search_model_versions(f"name = '{model_name}'")],
    "latest": [v.version for v in client.get_latest_versions(model_name, stages=["Staging"])],
}
out["errors"]["duplicate_model"] = code_of(lambda: client.create_registered_model(model_name))
out["errors"]["missing_alias"] = code_of(
    lambda: client.get_model_version_by_alias(model_name, "nope")
)
expected = model.predict(frame.head(5)).tolist()
out["predict"] = {
    "by_version": mlflow.pyfunc.load_model(f"models:/{model_name}/1")
    .predict(frame.head(5))
    .tolist()
    == expected,
    "by_alias": mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    .predict(frame.head(5))
    .tolist()
    == expected,
    "sklearn": mlflow.sklearn.load_model(f"models:/{model_name}/1").predict(frame.head(5)).tolist()
    == expected,
}
if MAJOR >= 3:
    logged = mlflow.get_logged_model(info.model_id)
    client.set_logged_model_tags(info.model_id, {"reviewed": "no"})
    found_models = mlflow.search_logged_models(experiment_ids=[exp_id], output_format="list")
    out["logged_model"] = {
        "name": logged.name,
        "status": str(logged.status),
        "tags": {
            k: v for k, v in mlflow.get_logged_model(info.model_id).tags.items() if k == "reviewed"
        },
        "searched": [m.name for m in found_models],
        "run": logged.source_run_id == run.info.run_id,
    }
    out["ids"]["logged_model"] = info.model_id
print(json.dumps(out, default=str))
sys.stdout.flush()
