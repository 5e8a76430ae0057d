"""relayml runs as MLflow's Run messages (info, data, inputs), loaded in a few queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select

from relayml.api.mlflow.common import Ctx, ms
from relayml.domain.entities import Run
from relayml.errors import NotFound
from relayml.interop import mlflow_experiments as experiments
from relayml.interop import mlflow_runs
from relayml.store.fast import FastStatement
from relayml.store.schema import experiments as experiments_t
from relayml.store.schema import projects, runs
from relayml.store.schema_mlflow import mlflow_experiments
from relayml.tracking.state import require_run

__all__ = [
    "artifact_root",
    "mlflow_experiment_id",
    "mlflow_experiment_ids",
    "new_run_json",
    "run_info",
    "runs_json",
]


# The experiment MLflow's "0" names, as experiments.find_by_name finds it: the one whose MLflow
# name is "Default", else the MLflow project's relayml experiment "Default" (without an MLflow
# name). One prebuilt statement: every run returned to an MLflow client asks it.
_DEFAULT = FastStatement(
    select(experiments_t.c.id, mlflow_experiments.c.name)
    .select_from(
        experiments_t.join(projects, projects.c.id == experiments_t.c.project_id).outerjoin(
            mlflow_experiments, mlflow_experiments.c.experiment_id == experiments_t.c.id
        )
    )
    .where(
        or_(
            mlflow_experiments.c.name == bindparam("name"),
            and_(
                projects.c.name == bindparam("project"),
                experiments_t.c.name == bindparam("relay_name"),
                mlflow_experiments.c.name.is_(None),
            ),
        )
    )
)
_EXPERIMENT_OF_RUN = FastStatement(
    select(runs.c.experiment_id).where(runs.c.id == bindparam("run_id"))
)


def _default_id(ctx: Ctx, conn: Connection) -> int | None:
    params = {"name": experiments.DEFAULT_NAME, "project": ctx.default_project}
    rows = _DEFAULT.all(conn, {**params, "relay_name": experiments.DEFAULT_NAME})
    rows.sort(key=lambda row: row[1] is None)  # its MLflow name first, as find_by_name looks
    return int(rows[0][0]) if rows else None


def mlflow_experiment_ids(ctx: Ctx, relay_ids: set[int]) -> dict[int, str]:
    """relayml experiment id -> MLflow experiment id ("0" for the MLflow project's Default)."""
    found = {i: str(i) for i in relay_ids}
    if not found:
        return found
    with ctx.store.read() as conn:
        default = _default_id(ctx, conn)
    if default in found:
        found[default] = "0"
    return found


def mlflow_experiment_id(ctx: Ctx, run_id: str) -> str:
    """The MLflow experiment id of a run's experiment (NotFound for an unknown run)."""
    with ctx.store.read() as conn:
        row = _EXPERIMENT_OF_RUN.first(conn, {"run_id": run_id})
        if row is None:
            require_run(conn, run_id)  # raises the run's NotFound
            raise NotFound(f"run {run_id!r} does not exist.")  # pragma: no cover
        default = _default_id(ctx, conn)
    return "0" if row[0] == default else str(row[0])


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


def _tags(run: Run) -> list[dict[str, str]]:
    tags = dict(run.tags)
    tags.setdefault("mlflow.runName", run.name)
    tags.setdefault("mlflow.user", run.user)
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def new_run_json(run: Run, experiment_id: str) -> dict[str, Any]:
    """A run just created, as MLflow's Run message: what ``runs_json`` would read back for it
    (its tags; no metrics, params or inputs yet), without reading it back."""
    return {
        "info": run_info(run, experiment_id),
        "data": {"metrics": [], "params": [], "tags": _tags(run)},
        "inputs": {"dataset_inputs": []},
    }


def runs_json(ctx: Ctx, found: Sequence[Run]) -> list[dict[str, Any]]:
    """Runs as MLflow's Run messages, in order."""
    ids = [r.id for r in found]
    with ctx.store.read() as conn:  # one transaction: these run for every run returned
        relay_exp, points, inputs = mlflow_runs.run_extras(conn, ids)
        default = _default_id(ctx, conn) if relay_exp else None
    if len(ids) == 1 and ids[0] not in relay_exp:
        mlflow_experiment_id(ctx, ids[0])  # raises the run's NotFound
    mlflow_ids = {i: "0" if i == default else str(i) for i in set(relay_exp.values())}
    exp_of = {i: mlflow_ids.get(relay_exp.get(i, 0), "0") for i in ids}
    result = []
    for run in found:
        data = {
            "metrics": [
                {"key": k, "value": v, "timestamp": t, "step": s}
                for k, v, s, t in sorted(points.get(run.id, []))
            ],
            "params": [{"key": k, "value": v} for k, v in sorted(run.params.items())],
            "tags": _tags(run),
        }
        result.append(
            {
                "info": run_info(run, exp_of[run.id]),
                "data": data,
                "inputs": {"dataset_inputs": inputs.get(run.id, [])},
            }
        )
    return result
