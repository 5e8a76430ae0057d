"""MLflow model versions and aliases over relayml's registry (see registry.py)."""

from __future__ import annotations

from typing import Any

from relayml.api.mlflow.common import Ctx, Route, decode_token, encode_token, need, optional_int
from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.filters import matches, parse_filter
from relayml.api.mlflow.registry import _immutable, _pairs, _project, _version_json, _versions
from relayml.domain.models import ENVIRONMENTS
from relayml.errors import NotFound
from relayml.interop import mlflow_registry as registry
from relayml.interop import mlflow_sources
from relayml.interop.mlflow_registry import VersionExtras

__all__ = ["ROUTES"]

# MLflow stages that are relayml environments; the others (None, Archived) are labels.
_STAGE_ENVIRONMENTS = {"Staging": "staging", "Production": "production"}


def _number(body: dict[str, Any]) -> int:
    number = optional_int(body, "version")
    if number is None:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", "missing value for required parameter 'version'."
        )
    return number


def _one(ctx: Ctx, project: str, name: str, number: int) -> dict[str, Any]:
    missing = MlflowError(
        "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={number}) not found."
    )
    if number < 1:
        raise missing
    try:
        version = ctx.backend.get_model_version(project, f"{name}/{number}")
    except NotFound:
        raise missing from None
    extras = registry.extras_of(ctx.store, project, name, number)
    aliases = registry.aliases_of(ctx.store, project, name)
    return _version_json(ctx, project, version, extras.get(number, VersionExtras()), aliases)


def create(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Register a version from files relayml already holds (a logged model, run artifacts)."""
    name = str(need(body, "name"))
    source = str(body.get("source") or "")
    project = _project(ctx, name, "model.write")
    found = mlflow_sources.resolve(ctx.store, source, body.get("model_id") or None)
    details, signature, requirements = mlflow_sources.describe(ctx.backend.blobs, found.files)
    details["source"] = source
    run_id = body.get("run_id") or found.run_id
    if run_id:
        run = ctx.backend.get_run(str(run_id))
        ctx.check("project.read", run.project)
        if run.project != project:
            details["source_run"] = {"project": run.project, "run_id": run.id}
            run_id = None
    version = ctx.backend.create_model_version(
        project,
        name,
        flavor="mlflow",
        files=found.files,
        signature=signature,
        requirements=requirements,
        details=details,
        run_id=str(run_id) if run_id else None,
        description=str(body.get("description") or ""),
    )
    registry.record_version(
        ctx.store,
        ctx.backend.actor,
        project,
        name,
        version.version,
        source=source,
        storage=found.storage,
        logged_model_id=found.logged_model_id,
        tags=_pairs(body.get("tags")),
    )
    return {"model_version": _one(ctx, project, name, version.version)}


def get(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """One version."""
    name = str(need(body, "name"))
    project = _project(ctx, name, "project.read")
    return {"model_version": _one(ctx, project, name, _number(body))}


def update(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Change a version's description."""
    name, number = str(need(body, "name")), _number(body)
    project = _project(ctx, name, "model.write")
    registry.set_version_facts(
        ctx.store,
        ctx.backend.actor,
        project,
        name,
        number,
        description=str(body.get("description") or ""),
    )
    return {"model_version": _one(ctx, project, name, number)}


def search(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Versions matching name = / LIKE, run_id = or tags (one model's, or all the caller's)."""
    clauses = parse_filter(body.get("filter"))
    names = [v for f, op, v in clauses if f.lower() == "name" and op == "="]
    models: list[tuple[str, str]] = []
    if names:
        models = [(_project(ctx, names[0], "project.read"), names[0])]
    else:
        visible = ctx.visible()
        for project in ctx.backend.list_projects():
            if visible is None or project.name in visible:
                models += [(project.name, m.name) for m in ctx.backend.list_models(project.name)]
    found = []
    for owner, name in models:
        for v in _versions(ctx, owner, name):
            tags = {t["key"]: t["value"] for t in v["tags"]}
            if matches(name, {**tags, "run_id": v["run_id"]}, clauses):
                found.append(v)
    limit = optional_int(body, "max_results", 10_000) or 10_000
    offset = decode_token(body.get("page_token"))
    result: dict[str, Any] = {"model_versions": found[offset : offset + limit]}
    if offset + limit < len(found):
        result["next_page_token"] = encode_token(offset + limit)
    return result


def download_uri(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Where the client downloads a version's files: the artifact proxy."""
    name, number = str(need(body, "name")), _number(body)
    project = _project(ctx, name, "project.read")
    extra = registry.extras_of(ctx.store, project, name).get(number)
    _one(ctx, project, name, number)
    if extra is None or not extra.storage:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"{name}/{number} was registered by relayml itself, not through MLflow; fetch it "
            f"with `relay models pull` or relay.load_model.",
        )
    return {"artifact_uri": extra.storage}


def _promote(ctx: Ctx, project: str, name: str, number: int, environment: str) -> None:
    ctx.check("promotion.request", project)
    promotion = ctx.backend.promote(
        project, f"{name}/{number}", environment, "through the MLflow API"
    )
    if promotion.status != "PROMOTED":
        waiting = ", ".join(promotion.waiting_for) or "the gates"
        raise MlflowError(
            "INVALID_STATE",
            f"promotion of {name}/{number} to {environment} is {promotion.status} "
            f"(waiting for: {waiting}); see `relay models history {name} -p {project}`.",
        )


def transition(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Move a version to a stage: Staging and Production through relayml's promotion."""
    name, number = str(need(body, "name")), _number(body)
    stage = str(need(body, "stage")).capitalize()
    project = _project(ctx, name, "model.write")
    if stage not in registry.STAGES:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"invalid stage {stage!r}; use one of {registry.STAGES}."
        )
    environment = _STAGE_ENVIRONMENTS.get(stage)
    if environment is not None:
        current = ctx.backend.get_model(project, name).aliases.get(environment)
        if current != number:
            _promote(ctx, project, name, number, environment)
    archive = str(body.get("archive_existing_versions", "false")).lower() == "true"
    if archive and stage in _STAGE_ENVIRONMENTS:
        for v in _versions(ctx, project, name):
            if v["current_stage"] == stage and v["version"] != str(number):
                registry.set_version_facts(
                    ctx.store, ctx.backend.actor, project, name, int(v["version"]), stage="Archived"
                )
    registry.set_version_facts(ctx.store, ctx.backend.actor, project, name, number, stage=stage)
    return {"model_version": _one(ctx, project, name, number)}


def set_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Set a tag of a version."""
    name, number = str(need(body, "name")), _number(body)
    project = _project(ctx, name, "model.write")
    tag = (str(need(body, "key")), str(body.get("value", "")))
    registry.set_version_facts(ctx.store, ctx.backend.actor, project, name, number, set_tag=tag)
    return {}


def delete_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete a tag of a version."""
    name, number = str(need(body, "name")), _number(body)
    project = _project(ctx, name, "model.write")
    key = str(need(body, "key"))
    registry.set_version_facts(ctx.store, ctx.backend.actor, project, name, number, delete_tag=key)
    return {}


def set_alias(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Point an alias at a version (an environment's alias through promotion)."""
    name, alias, number = str(need(body, "name")), str(need(body, "alias")), _number(body)
    if alias in ENVIRONMENTS:
        project = _project(ctx, name, "project.read")
        if ctx.backend.get_model(project, name).aliases.get(alias) != number:
            _promote(ctx, project, name, number, alias)
        return {}
    project = _project(ctx, name, "model.write")
    registry.set_alias(ctx.store, ctx.backend.actor, project, name, alias, number)
    return {}


def delete_alias(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete an alias (environments stay: retire or promote another version instead)."""
    name, alias = str(need(body, "name")), str(need(body, "alias"))
    project = _project(ctx, name, "model.write")
    if alias in ENVIRONMENTS:
        raise MlflowError(
            "INVALID_STATE",
            f"{alias!r} is an environment of relayml: promote another version into it or retire "
            "the model; it is not deleted through the MLflow API.",
        )
    registry.set_alias(ctx.store, ctx.backend.actor, project, name, alias, None)
    return {}


def by_alias(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """The version an alias (or environment) points at."""
    name, alias = str(need(body, "name")), str(need(body, "alias"))
    project = _project(ctx, name, "project.read")
    if alias in ENVIRONMENTS:
        number = ctx.backend.get_model(project, name).aliases.get(alias)
    else:
        number = registry.aliases_of(ctx.store, project, name).get(alias)
    if number is None:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"Registered model alias {alias} not found for model {name}."
        )
    return {"model_version": _one(ctx, project, name, number)}


ROUTES = [
    Route("POST", "/model-versions/create", "model.write", create),
    Route("PATCH", "/model-versions/update", "model.write", update),
    Route("POST", "/model-versions/transition-stage", "model.write", transition),
    Route("DELETE", "/model-versions/delete", "model.write", _immutable),
    Route("GET", "/model-versions/get", "project.read", get),
    Route("GET", "/model-versions/search", "project.read", search),
    Route("GET", "/model-versions/get-download-uri", "project.read", download_uri),
    Route("POST", "/model-versions/set-tag", "model.write", set_tag),
    Route("DELETE", "/model-versions/delete-tag", "model.write", delete_tag),
    Route("POST", "/registered-models/alias", "model.write", set_alias),
    Route("DELETE", "/registered-models/alias", "model.write", delete_alias),
    Route("GET", "/registered-models/alias", "project.read", by_alias),
]
