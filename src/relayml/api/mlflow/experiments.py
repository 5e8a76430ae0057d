"""MLflow experiments: create, get, get-by-name, search, update (rename), delete, restore, tags."""

from __future__ import annotations

from typing import Any

from relayml.api.mlflow.common import Ctx, Route, decode_token, encode_token, need, optional_int
from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.filters import matches, parse_filter
from relayml.errors import NotFound
from relayml.interop import mlflow_experiments as experiments
from relayml.interop.mlflow_experiments import MlflowExperiment

__all__ = ["ROUTES", "experiment_json"]

PROJECT_TAG = "relay.project"
MAX_EXPERIMENTS_PAGE = 50_000


def experiment_json(exp: MlflowExperiment) -> dict[str, Any]:
    """An experiment as MLflow's Experiment message."""
    tags = dict(exp.tags)
    tags.setdefault(PROJECT_TAG, exp.project)
    return {
        "experiment_id": exp.mlflow_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": "deleted" if exp.deleted else "active",
        "creation_time": exp.created_at,
        "last_update_time": exp.updated_at,
        "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
    }


def _tags(body: dict[str, Any]) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in body.get("tags") or [] if "key" in t}


def create(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Create an experiment (in the project its relay.project tag names, else the MLflow one)."""
    name = str(need(body, "name"))
    tags = _tags(body)
    project = tags.pop(PROJECT_TAG, ctx.default_project)
    ctx.ensure_project(project)
    ctx.check("tracking.write", project)
    try:
        experiments.find_by_name(ctx.store, ctx.default_project, name)
    except NotFound:
        pass
    else:
        raise MlflowError(
            "RESOURCE_ALREADY_EXISTS", f"Experiment(name={name}) already exists; pick another name."
        )
    exp = experiments.create(
        ctx.store,
        ctx.backend.actor,
        ctx.default_project,
        project,
        name,
        artifact_location=str(body.get("artifact_location") or ""),
        tags=tags,
    )
    return {"experiment_id": exp.mlflow_id}


def get(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """One experiment by id."""
    return {"experiment": experiment_json(ctx.experiment(need(body, "experiment_id")))}


def get_by_name(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """One experiment by MLflow name."""
    name = str(need(body, "experiment_name"))
    if name == experiments.DEFAULT_NAME:
        ctx.ensure_default()
    exp = experiments.find_by_name(ctx.store, ctx.default_project, name)
    ctx.check("project.read", exp.project)
    return {"experiment": experiment_json(exp)}


_ORDER = {"name", "experiment_id", "creation_time", "last_update_time"}


def _sort(found: list[MlflowExperiment], order_by: list[str]) -> list[MlflowExperiment]:
    keys = {
        "name": lambda e: e.name,
        "experiment_id": lambda e: e.id,
        "creation_time": lambda e: e.created_at,
        "last_update_time": lambda e: e.updated_at,
    }
    result = sorted(found, key=lambda e: (-e.created_at, -e.id))
    for item in reversed(order_by):
        words = item.split()
        field = words[0].split(".")[-1] if words else ""
        if field not in _ORDER or len(words) > 2:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"invalid order_by {item!r}: use one of {', '.join(sorted(_ORDER))} "
                "then ASC or DESC.",
            )
        descending = len(words) == 2 and words[1].upper() == "DESC"
        result.sort(key=keys[field], reverse=descending)
    return result


def search(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Experiments the caller may read, filtered, ordered and paged."""
    view = str(body.get("view_type") or "ACTIVE_ONLY").upper()
    if view not in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"invalid view_type {view!r}.")
    limit = optional_int(body, "max_results", 1000) or 1000
    if not 1 <= limit <= MAX_EXPERIMENTS_PAGE:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"max_results must be between 1 and {MAX_EXPERIMENTS_PAGE}, got {limit}.",
        )
    clauses = parse_filter(body.get("filter"))
    order_by = body.get("order_by") or []
    if isinstance(order_by, str):
        order_by = [order_by]
    found = experiments.list_all(ctx.store, ctx.default_project, ctx.visible())
    found = [
        e
        for e in found
        if (view == "ALL" or e.deleted == (view == "DELETED_ONLY"))
        and matches(e.name, e.tags, clauses)
    ]
    found = _sort(found, list(order_by))
    offset = decode_token(body.get("page_token"))
    page = found[offset : offset + limit]
    result: dict[str, Any] = {"experiments": [experiment_json(e) for e in page]}
    if offset + limit < len(found):
        result["next_page_token"] = encode_token(offset + limit)
    return result


def update(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Rename an experiment."""
    exp = ctx.experiment(need(body, "experiment_id"), "tracking.write")
    new_name = body.get("new_name")
    if new_name:
        experiments.rename(ctx.store, ctx.backend.actor, exp, str(new_name))
    return {}


def delete(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete an experiment and hide its runs, restorably."""
    exp = ctx.experiment(need(body, "experiment_id"), "tracking.write")
    experiments.set_deleted(ctx.store, ctx.backend.actor, exp, True)
    return {}


def restore(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Bring a deleted experiment back."""
    exp = ctx.experiment(need(body, "experiment_id"), "tracking.write")
    experiments.set_deleted(ctx.store, ctx.backend.actor, exp, False)
    return {}


def set_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Set an experiment tag."""
    exp = ctx.experiment(need(body, "experiment_id"), "tracking.write")
    key = str(need(body, "key"))
    experiments.set_tag(ctx.store, ctx.backend.actor, exp, key, str(body.get("value", "")))
    return {}


def delete_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete an experiment tag."""
    exp = ctx.experiment(need(body, "experiment_id"), "tracking.write")
    experiments.set_tag(ctx.store, ctx.backend.actor, exp, str(need(body, "key")), None)
    return {}


ROUTES = [
    Route("POST", "/experiments/create", "tracking.write", create),
    Route("GET", "/experiments/get", "project.read", get),
    Route("GET", "/experiments/get-by-name", "project.read", get_by_name),
    Route("POST", "/experiments/search", "project.read", search),
    Route("GET", "/experiments/search", "project.read", search),
    Route("POST", "/experiments/update", "tracking.write", update),
    Route("POST", "/experiments/delete", "tracking.write", delete),
    Route("POST", "/experiments/restore", "tracking.write", restore),
    Route("POST", "/experiments/set-experiment-tag", "tracking.write", set_tag),
    Route("POST", "/experiments/delete-experiment-tag", "tracking.write", delete_tag),
]
