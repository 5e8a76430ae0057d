"""relayml runs as MLflow's Run messages (info, data, inputs), loaded in a few queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relayml.api.mlflow.common import Ctx, ms
from relayml.domain.entities import Run
from relayml.errors import NotFound
from relayml.interop import mlflow_experiments as experiments
from relayml.interop import mlflow_runs

__all__ = ["artifact_root", "mlflow_experiment_ids", "run_info", "runs_json"]


def mlflow_experiment_ids(ctx: Ctx, relay_ids: set[int]) -> dict[int, str]:
    """relayml experiment id -> MLflow experiment id ("0" for the MLflow project's Default)."""
    found = {i: str(i) for i in relay_ids}
    try:
        default = experiments.find_by_name(ctx.store, ctx.default_project, experiments.DEFAULT_NAME)
    except NotFound:  # no Default experiment: every id is relayml's
        return found
    if default.id in found:
        found[default.id] = "0"
    return found


def artifact_root(experiment_id: str, run_id: str) -> str:
    """Where the MLflow client puts a run's artifacts: the server's artifact proxy."""
    return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def run_info(run: Run, experiment_id: str) -> dict[str, Any]:
    """A run's RunInfo message."""
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": experiment_id,
        "user_id": run.user,
        "status": run.status.value,
        "start_time": ms(run.start_time),
        "artifact_uri": artifact_root(experiment_id, run.id),
        "lifecycle_stage": "deleted" if run.deleted_at is not None else "active",
    }
    if run.end_time is not None:
        info["end_time"] = ms(run.end_time)
    return info


def runs_json(ctx: Ctx, found: Sequence[Run]) -> list[dict[str, Any]]:
    """Runs as MLflow's Run messages, in order."""
    ids = [r.id for r in found]
    relay_exp = mlflow_runs.experiment_ids(ctx.store, ids)
    mlflow_ids = mlflow_experiment_ids(ctx, set(relay_exp.values()))
    points = mlflow_runs.latest_points(ctx.store, ids)
    inputs = mlflow_runs.dataset_inputs(ctx.store, ids)
    result = []
    for run in found:
        exp_id = mlflow_ids.get(relay_exp.get(run.id, 0), "0")
        tags = dict(run.tags)
        tags.setdefault("mlflow.runName", run.name)
        tags.setdefault("mlflow.user", run.user)
        data = {
            "metrics": [
                {"key": k, "value": v, "timestamp": t, "step": s}
                for k, v, s, t in sorted(points.get(run.id, []))
            ],
            "params": [{"key": k, "value": v} for k, v in sorted(run.params.items())],
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        }
        result.append(
            {
                "info": run_info(run, exp_id),
                "data": data,
                "inputs": {"dataset_inputs": inputs.get(run.id, [])},
            }
        )
    return result
