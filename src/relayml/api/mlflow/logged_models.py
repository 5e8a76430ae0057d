"""MLflow 3 logged models: create, get, search, finalize, delete, tags, params, artifact listing."""

from __future__ import annotations

from typing import Any

from relayml.api.mlflow.common import Ctx, Route, decode_token, encode_token, need, optional_int
from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.filters import matches, parse_filter
from relayml.api.mlflow.run_json import mlflow_experiment_ids
from relayml.interop import mlflow_logged_models as logged_models
from relayml.interop.mlflow_logged_models import LoggedModel

__all__ = ["ROUTES", "model_json", "model_root"]


def model_root(experiment_id: str, model_id: str) -> str:
    """Where the MLflow client puts a logged model's files: the artifact proxy."""
    return f"mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"


def model_json(ctx: Ctx, model: LoggedModel) -> dict[str, Any]:
    """A logged model as MLflow's LoggedModel message."""
    exp_id = mlflow_experiment_ids(ctx, {model.experiment_id})[model.experiment_id]
    info: dict[str, Any] = {
        "model_id": model.id,
        "experiment_id": exp_id,
        "name": model.name,
        "artifact_uri": model_root(exp_id, model.id),
        "status": model.status,
        "creation_timestamp_ms": model.created_at,
        "last_updated_timestamp_ms": model.updated_at,
        "model_type": model.model_type,
        "tags": [{"key": k, "value": v} for k, v in sorted(model.tags.items())],
    }
    if model.run_id:
        info["source_run_id"] = model.run_id
    params = [{"key": k, "value": v} for k, v in sorted(model.params.items())]
    return {"info": info, "data": {"params": params, "metrics": []}}


def _pairs(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or [] if "key" in i}


def _model(ctx: Ctx, body: dict[str, Any], action: str) -> LoggedModel:
    model = logged_models.get(ctx.store, str(need(body, "model_id")))
    ctx.check(action, model.project)
    return model


def create(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Create a pending logged model in an experiment."""
    exp = ctx.experiment(body.get("experiment_id") or "0", "tracking.write")
    run_id = body.get("source_run_id") or None
    if run_id is not None:
        run = ctx.backend.get_run(str(run_id))
        if run.project != exp.project:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"run {run_id} is in project {run.project!r}, the experiment in {exp.project!r}.",
            )
    model = logged_models.create(
        ctx.store,
        ctx.backend.actor,
        exp.project,
        exp.id,
        str(body.get("name") or "model"),
        run_id=str(run_id) if run_id else None,
        model_type=str(body.get("model_type") or ""),
        params=_pairs(body.get("params")),
        tags=_pairs(body.get("tags")),
    )
    return {"model": model_json(ctx, model)}


def get(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """One logged model."""
    return {"model": model_json(ctx, _model(ctx, body, "project.read"))}


def finalize(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Set a logged model's status (READY once its files are uploaded)."""
    model = _model(ctx, body, "tracking.write")
    status = str(need(body, "status"))
    updated = logged_models.update_model(ctx.store, ctx.backend.actor, model.id, status=status)
    return {"model": model_json(ctx, updated)}


def delete(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete a logged model."""
    model = _model(ctx, body, "tracking.write")
    logged_models.delete(ctx.store, ctx.backend.actor, model.id)
    return {}


def set_tags(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Set tags of a logged model."""
    model = _model(ctx, body, "tracking.write")
    logged_models.update_model(
        ctx.store, ctx.backend.actor, model.id, set_tags=_pairs(body.get("tags"))
    )
    return {}


def delete_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete one tag of a logged model."""
    model = _model(ctx, body, "tracking.write")
    key = str(need(body, "tag_key"))
    logged_models.update_model(ctx.store, ctx.backend.actor, model.id, delete_tag=key)
    return {}


def log_params(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Log params of a logged model."""
    model = _model(ctx, body, "tracking.write")
    logged_models.update_model(
        ctx.store, ctx.backend.actor, model.id, params=_pairs(body.get("params"))
    )
    return {}


def search(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Logged models of experiments, newest first, filtered by name or tags."""
    ids = body.get("experiment_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    if not ids:
        raise MlflowError("INVALID_PARAMETER_VALUE", "name at least one experiment_id to search.")
    found = [ctx.experiment(i) for i in ids]
    clauses = parse_filter(body.get("filter"))
    limit = optional_int(body, "max_results", 100) or 100
    offset = decode_token(body.get("page_token"))
    models = [
        m
        for m in logged_models.search(ctx.store, [e.id for e in found], limit=50_000)
        if matches(m.name, {**m.tags, "source_run_id": m.run_id or ""}, clauses)
    ]
    page = models[offset : offset + limit]
    result: dict[str, Any] = {"models": [model_json(ctx, m) for m in page]}
    if offset + limit < len(models):
        result["next_page_token"] = encode_token(offset + limit)
    return result


def list_artifacts(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """The files and folders directly under a folder of a logged model."""
    model = _model(ctx, body, "project.read")
    folder = str(body.get("artifact_directory_path") or "").strip("/")
    files: dict[str, dict[str, Any]] = {}
    for path, _, size in logged_models.files_of(ctx.store, model.id):
        if folder and not path.startswith(folder + "/"):
            continue
        rest = path[len(folder) + 1 :] if folder else path
        head, _, tail = rest.partition("/")
        full = f"{folder}/{head}" if folder else head
        files[full] = (
            {"path": full, "is_dir": True}
            if tail
            else {
                "path": full,
                "is_dir": False,
                "file_size": size,
            }
        )
    exp_id = mlflow_experiment_ids(ctx, {model.experiment_id})[model.experiment_id]
    return {"root_uri": model_root(exp_id, model.id), "files": [files[k] for k in sorted(files)]}


ROUTES = [
    Route("POST", "/logged-models", "tracking.write", create),
    Route("POST", "/logged-models/search", "project.read", search),
    Route("GET", "/logged-models/{model_id}", "project.read", get),
    Route("PATCH", "/logged-models/{model_id}", "tracking.write", finalize),
    Route("DELETE", "/logged-models/{model_id}", "tracking.write", delete),
    Route("PATCH", "/logged-models/{model_id}/tags", "tracking.write", set_tags),
    Route("DELETE", "/logged-models/{model_id}/tags/{tag_key}", "tracking.write", delete_tag),
    Route("POST", "/logged-models/{model_id}/params", "tracking.write", log_params),
    Route("GET", "/logged-models/{model_id}/artifacts/directories", "project.read", list_artifacts),
]
