"""MLflow's model registry over relayml's: registered models, versions, tags, aliases, stages.

A version is created from files already in relayml (a logged model, run artifacts); aliases and
stages that name a relayml environment (Staging, Production; aliases dev/staging/production)
move through promotion, so gates and approvals apply.
"""

from __future__ import annotations

from typing import Any

from relayml.api.mlflow.common import Ctx, Route, decode_token, encode_token, ms, need, optional_int
from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.filters import matches, parse_filter
from relayml.domain.models import ModelVersion, RegisteredModel
from relayml.errors import NotFound
from relayml.interop import mlflow_registry as registry
from relayml.interop.mlflow_registry import VersionExtras

__all__ = ["ROUTES"]

_PROJECT_TAG = "relay.project"


def _pairs(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or [] if "key" in i}


def _project(ctx: Ctx, name: str, action: str) -> str:
    project = registry.project_of_model(ctx.store, name, ctx.visible())
    ctx.check(action, project)
    return project


def _version_json(
    ctx: Ctx, project: str, v: ModelVersion, extra: VersionExtras, aliases: dict[str, int]
) -> dict[str, Any]:
    names = [a for a in v.aliases] + sorted(a for a, n in aliases.items() if n == v.version)
    tags = dict(extra.tags)
    found: dict[str, Any] = {
        "name": v.model,
        "version": str(v.version),
        "creation_timestamp": ms(v.created_at),
        "last_updated_timestamp": extra.updated_at or ms(v.created_at),
        "user_id": v.created_by,
        "current_stage": extra.stage,
        "description": v.description,
        "source": extra.source or f"relay:/{project}/{v.model}/{v.version}",
        "run_id": v.run_id or "",
        "status": "READY",
        "tags": [{"key": k, "value": val} for k, val in sorted(tags.items())],
        "aliases": names,
        "run_link": "",
    }
    if extra.logged_model_id:
        found["model_id"] = extra.logged_model_id
    return found


def _versions(ctx: Ctx, project: str, name: str) -> list[dict[str, Any]]:
    extras = registry.extras_of(ctx.store, project, name)
    aliases = registry.aliases_of(ctx.store, project, name)
    return [
        _version_json(ctx, project, v, extras.get(v.version, VersionExtras()), aliases)
        for v in ctx.backend.list_model_versions(project, name)
    ]


def _latest_per_stage(
    versions: list[dict[str, Any]], stages: list[str] | None
) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for v in versions:  # newest first
        latest.setdefault(v["current_stage"], v)
    wanted = stages or list(latest)
    return [latest[s] for s in wanted if s in latest]


def _model_json(ctx: Ctx, model: RegisteredModel, *, new: bool = False) -> dict[str, Any]:
    """A registered model as MLflow's message (new: just created, so without versions or
    MLflow aliases to read)."""
    versions = [] if new else _versions(ctx, model.project, model.name)
    aliases = dict(model.aliases)
    if not new:
        aliases.update(registry.aliases_of(ctx.store, model.project, model.name))
    tags = dict(model.tags)
    tags.setdefault(_PROJECT_TAG, model.project)
    updated = max([ms(model.created_at) or 0] + [v["last_updated_timestamp"] for v in versions])
    return {
        "name": model.name,
        "creation_timestamp": ms(model.created_at),
        "last_updated_timestamp": updated,
        "user_id": model.owner,
        "description": model.description,
        "latest_versions": _latest_per_stage(versions, None),
        "tags": [{"key": k, "value": str(v)} for k, v in sorted(tags.items())],
        "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(aliases.items())],
    }


def create_model(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Create a registered model (in its relay.project tag's project, else the MLflow one)."""
    name = str(need(body, "name"))
    tags = _pairs(body.get("tags"))
    project = tags.pop(_PROJECT_TAG, ctx.default_project)
    try:
        existing = registry.project_of_model(ctx.store, name)
    except NotFound:
        existing = None
    if existing is not None:
        raise MlflowError(
            "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists."
        )
    ctx.ensure_project(project)
    ctx.check("model.write", project)
    registry.create_model(
        ctx.store,
        ctx.backend.actor,
        project,
        name,
        description=str(body.get("description") or ""),
        tags=tags,
    )
    return {"registered_model": _model_json(ctx, ctx.backend.get_model(project, name), new=True)}


def get_model(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """One registered model."""
    name = str(need(body, "name"))
    project = _project(ctx, name, "project.read")
    return {"registered_model": _model_json(ctx, ctx.backend.get_model(project, name))}


def search_models(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Registered models the caller may read, filtered by name or tags, by name."""
    clauses = parse_filter(body.get("filter"))
    visible = ctx.visible()
    found = []
    for project in ctx.backend.list_projects():
        if visible is None or project.name in visible:
            found += [
                m
                for m in ctx.backend.list_models(project.name)
                if matches(m.name, {k: str(v) for k, v in m.tags.items()}, clauses)
            ]
    found.sort(key=lambda m: m.name)
    limit = optional_int(body, "max_results", 100) or 100
    offset = decode_token(body.get("page_token"))
    result: dict[str, Any] = {
        "registered_models": [_model_json(ctx, m) for m in found[offset : offset + limit]]
    }
    if offset + limit < len(found):
        result["next_page_token"] = encode_token(offset + limit)
    return result


def rename_model(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Rename a registered model."""
    name, new_name = str(need(body, "name")), str(need(body, "new_name"))
    project = _project(ctx, name, "model.write")
    registry.rename_model(ctx.store, ctx.backend.actor, project, name, new_name)
    return {"registered_model": _model_json(ctx, ctx.backend.get_model(project, new_name))}


def update_model(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Change a registered model's description."""
    name = str(need(body, "name"))
    project = _project(ctx, name, "model.write")
    registry.update_model(
        ctx.store, ctx.backend.actor, project, name, description=str(body.get("description") or "")
    )
    return {"registered_model": _model_json(ctx, ctx.backend.get_model(project, name))}


def _immutable(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Deleting is refused: relayml keeps every model and version for lineage and audit."""
    _project(ctx, str(need(body, "name")), "model.write")
    raise MlflowError(
        "INVALID_STATE",
        "relayml keeps every registered model and version (lineage, audit and deployments refer "
        "to them); take a model out of service with `relay models retire` instead.",
    )


def set_model_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Set a tag of a registered model."""
    name = str(need(body, "name"))
    project = _project(ctx, name, "model.write")
    tag = (str(need(body, "key")), str(body.get("value", "")))
    registry.update_model(ctx.store, ctx.backend.actor, project, name, set_tag=tag)
    return {}


def delete_model_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete a tag of a registered model."""
    name = str(need(body, "name"))
    project = _project(ctx, name, "model.write")
    key = str(need(body, "key"))
    registry.update_model(ctx.store, ctx.backend.actor, project, name, delete_tag=key)
    return {}


def latest_versions(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """The newest version in each stage (or in the stages asked for)."""
    name = str(need(body, "name"))
    project = _project(ctx, name, "project.read")
    stages = body.get("stages") or None
    if isinstance(stages, str):
        stages = [stages]
    return {"model_versions": _latest_per_stage(_versions(ctx, project, name), stages)}


ROUTES = [
    Route("POST", "/registered-models/create", "model.write", create_model),
    Route("POST", "/registered-models/rename", "model.write", rename_model),
    Route("PATCH", "/registered-models/update", "model.write", update_model),
    Route("DELETE", "/registered-models/delete", "model.write", _immutable),
    Route("GET", "/registered-models/get", "project.read", get_model),
    Route("GET", "/registered-models/search", "project.read", search_models),
    Route("POST", "/registered-models/get-latest-versions", "project.read", latest_versions),
    Route("GET", "/registered-models/get-latest-versions", "project.read", latest_versions),
    Route("POST", "/registered-models/set-tag", "model.write", set_model_tag),
    Route("DELETE", "/registered-models/delete-tag", "model.write", delete_model_tag),
]
