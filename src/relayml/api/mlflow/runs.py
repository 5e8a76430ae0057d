"""MLflow runs: create, update, get, delete, restore, log (single and batch), tags, inputs,
search with MLflow's filter syntax, metric history and the artifact listing."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from fastapi import Response

from relayml.api.auth import run_project
from relayml.api.mlflow.common import Ctx, Route, decode_token, encode_token, need, optional_int
from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.run_json import (
    artifact_root,
    mlflow_experiment_id,
    new_run_json,
    run_info,
    runs_json,
)
from relayml.domain.entities import RunStatus
from relayml.domain.names import run_name
from relayml.errors import Conflict
from relayml.interop import mlflow_experiments as experiments
from relayml.interop import mlflow_logged_models as logged_models
from relayml.interop import mlflow_runs
from relayml.store import now_ms
from relayml.tracking.metrics import metric_history_rows

__all__ = ["ROUTES"]

MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ITEMS = 1000, 100, 100, 1000
MAX_KEY = 250
MAX_SEARCH = 50_000
HISTORY_PAGE = 25_000


def _run_id(body: dict[str, Any]) -> str:
    value = body.get("run_id") or body.get("run_uuid")
    if not value:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", "missing value for required parameter 'run_id'."
        )
    return str(value)


def _run(ctx: Ctx, body: dict[str, Any], action: str) -> str:
    run_id = _run_id(body)
    ctx.check(action, str(run_project(ctx.backend, {"run_id": run_id})))
    return run_id


def _one(ctx: Ctx, run_id: str) -> dict[str, Any]:
    return runs_json(ctx, [ctx.backend.get_run(run_id)])[0]


def create(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Start a run in an experiment."""
    exp = ctx.experiment(body.get("experiment_id") or "0", "tracking.write")
    tags = {str(t["key"]): str(t.get("value", "")) for t in body.get("tags") or [] if "key" in t}
    name = body.get("run_name") or tags.get("mlflow.runName")
    name = experiments.relay_name(str(name)) if name else run_name()
    tags["mlflow.runName"] = name  # MLflow's clients read the name from this tag too
    run = ctx.backend.create_run(
        exp.project,
        exp.relay_name,
        name=name,
        tags=tags,
        start_time=optional_int(body, "start_time"),
    )
    return {"run": new_run_json(run, exp.mlflow_id)}


def update(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """End a run with a status, or rename it."""
    run_id = _run(ctx, body, "tracking.write")
    name = body.get("run_name")
    if name:
        clean = experiments.relay_name(str(name))
        mlflow_runs.rename_run(ctx.store, ctx.backend.actor, run_id, clean)
        ctx.backend.set_tags(run_id, {"mlflow.runName": clean})
    status = body.get("status")
    if status and status != "RUNNING":
        if status not in RunStatus.__members__ or status == "SCHEDULED":
            raise MlflowError("INVALID_PARAMETER_VALUE", f"invalid run status {status!r}.")
        current = ctx.backend.get_run(run_id)
        if current.status.value != status:
            try:
                ctx.backend.end_run(run_id, status, end_time=optional_int(body, "end_time"))
            except Conflict:
                if not current.status.is_terminal:
                    raise
    run = ctx.backend.get_run(run_id)
    return {"run_info": run_info(run, mlflow_experiment_id(ctx, run_id))}


def get(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """One run with its data and inputs."""
    return {"run": _one(ctx, _run(ctx, body, "project.read"))}


def delete(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete a run, restorably."""
    ctx.backend.delete_run(_run(ctx, body, "tracking.write"))
    return {}


def restore(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Restore a deleted run."""
    ctx.backend.restore_run(_run(ctx, body, "tracking.write"))
    return {}


def _key(value: Any, what: str) -> str:
    key = str(value or "")
    if not key:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"missing value for the {what} key.")
    if len(key) > MAX_KEY:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"{what} key {key[:40]!r}... has {len(key)} characters; the limit is {MAX_KEY}.",
        )
    return key


def _point(item: dict[str, Any], now: int) -> tuple[str, float, int, int]:
    """(key, value, step, timestamp) of an MLflow metric; a missing or 0 timestamp is now."""
    raw = item.get("value")
    try:
        value = float(raw) if raw is not None else math.nan
    except (TypeError, ValueError):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"metric value {raw!r} is not a number."
        ) from None
    key, step, timestamp = item.get("key"), item.get("step"), item.get("timestamp")
    # The usual shapes (a short str key, int step and time) straight; the rest as _key and
    # optional_int take them (numbers as strings, a missing step or time, errors).
    if type(key) is not str or not 0 < len(key) <= MAX_KEY:
        key = _key(key, "metric")
    if type(step) is not int:
        step = optional_int(item, "step", 0) or 0
    if type(timestamp) is not int:
        timestamp = optional_int(item, "timestamp", now) or now
    elif not timestamp:
        timestamp = now
    return key, value, step, timestamp


def log_metric(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Append one metric point."""
    run_id = _run(ctx, body, "tracking.write")
    ctx.backend.log_metrics(run_id, [_point(body, now_ms())])
    return {}


def log_param(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Set one param (immutable)."""
    run_id = _run(ctx, body, "tracking.write")
    ctx.backend.log_params(run_id, {_key(body.get("key"), "param"): str(body.get("value", ""))})
    return {}


def set_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Set one tag (mlflow.runName renames the run)."""
    run_id = _run(ctx, body, "tracking.write")
    key, value = _key(body.get("key"), "tag"), str(body.get("value", ""))
    if key == "mlflow.runName" and value:
        value = experiments.relay_name(value)
        mlflow_runs.rename_run(ctx.store, ctx.backend.actor, run_id, value)
    ctx.backend.set_tags(run_id, {key: value})
    return {}


def delete_tag(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Delete one tag."""
    run_id = _run(ctx, body, "tracking.write")
    mlflow_runs.delete_tag(ctx.store, ctx.backend.actor, run_id, _key(body.get("key"), "tag"))
    return {}


def _limit(items: list[Any], limit: int, what: str) -> None:
    if len(items) > limit:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"A batch logging request can contain at most {limit} {what}. Got {len(items)} "
            f"{what}. Split them across several requests and try again.",
        )


def log_batch(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Log metrics, params and tags at once, within MLflow's limits."""
    run_id = _run(ctx, body, "tracking.write")
    metrics = list(body.get("metrics") or [])
    params = list(body.get("params") or [])
    tags = list(body.get("tags") or [])
    _limit(metrics, MAX_METRICS, "metrics")
    _limit(params, MAX_PARAMS, "params")
    _limit(tags, MAX_TAGS, "tags")
    _limit(metrics + params + tags, MAX_ITEMS, "total metrics, params and tags")
    now = now_ms()  # one clock read for the batch: points sent without a time share it
    points = [_point(m, now) for m in metrics]
    clean_params = {_key(p.get("key"), "param"): str(p.get("value", "")) for p in params}
    clean_tags = {_key(t.get("key"), "tag"): str(t.get("value", "")) for t in tags}
    if clean_params:
        ctx.backend.log_params(run_id, clean_params)
    if clean_tags:
        ctx.backend.set_tags(run_id, clean_tags)
    if points:
        ctx.backend.log_metrics(run_id, points)
    return {}


def log_model(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Record a logged model's MLmodel facts in the run's mlflow.log-model.history tag."""
    run_id = _run(ctx, body, "tracking.write")
    try:
        model = json.loads(str(need(body, "model_json")))
    except ValueError:
        raise MlflowError("INVALID_PARAMETER_VALUE", "model_json is not JSON.") from None
    history = json.loads(ctx.backend.get_run(run_id).tags.get("mlflow.log-model.history", "[]"))
    history.append(model)
    ctx.backend.set_tags(run_id, {"mlflow.log-model.history": json.dumps(history)})
    return {}


def log_inputs(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Record the datasets (and logged models) a run used."""
    run_id = _run(ctx, body, "tracking.write")
    mlflow_runs.log_inputs(ctx.store, ctx.backend.actor, run_id, list(body.get("datasets") or []))
    return {}


def log_outputs(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Link logged models a run produced to it."""
    run_id = _run(ctx, body, "tracking.write")
    for item in body.get("models") or []:
        model = logged_models.get(ctx.store, str(need(item, "model_id")))
        ctx.check("tracking.write", model.project)
        logged_models.update_model(ctx.store, ctx.backend.actor, model.id, run_id=run_id)
    return {}


def search(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """Search runs of experiments (of one project) with MLflow's filter and order-by."""
    ids = body.get("experiment_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    if not ids:
        raise MlflowError("INVALID_PARAMETER_VALUE", "name at least one experiment_id to search.")
    found = [ctx.experiment(i) for i in ids]
    projects = {e.project for e in found}
    if len(projects) > 1:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"these experiments are in several relayml projects ({', '.join(sorted(projects))}); "
            "search one project's experiments at a time.",
        )
    view = str(body.get("run_view_type") or "ACTIVE_ONLY").upper()
    limit = optional_int(body, "max_results", 1000) or 1000
    if not 1 <= limit <= MAX_SEARCH:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"max_results must be between 1 and {MAX_SEARCH}, got {limit}.",
        )
    order_by = body.get("order_by") or []
    page = ctx.backend.search_runs(
        projects.pop(),
        filter=mlflow_runs.translate_filter(body.get("filter")),
        order_by=mlflow_runs.translate_order_by(
            [order_by] if isinstance(order_by, str) else order_by
        ),
        max_results=min(limit, 10_000),
        page_token=body.get("page_token") or None,
        experiments=[e.relay_name for e in found],
        include_deleted=view in ("ALL", "DELETED_ONLY"),
    )
    runs = page.runs
    if view == "DELETED_ONLY":
        runs = [r for r in runs if r.deleted_at is not None]
    result: dict[str, Any] = {"runs": runs_json(ctx, runs)}
    if page.next_page_token:
        result["next_page_token"] = page.next_page_token
    return result


def history_body(key: str, rows: list[tuple[float | None, int, int]], token: str | None) -> bytes:
    """GetMetricHistory's answer (rows: value, step, timestamp; NaN stored as None) in JSON:
    through orjson when every value is finite (10,000 points: ~3 ms instead of ~100 through
    entities and json), else json, which writes NaN and Infinity as MLflow's clients read them."""
    try:
        finite = all(map(math.isfinite, [row[0] for row in rows]))  # type: ignore[arg-type]
    except TypeError:  # a NaN, stored as None
        finite = False
    doc: dict[str, Any] = {
        "metrics": [
            {"key": key, "value": math.nan if v is None else v, "timestamp": t, "step": s}
            for v, s, t in rows
        ]
    }
    if token is not None:
        doc["next_page_token"] = token
    if finite:
        try:
            return orjson.dumps(doc)
        except orjson.JSONEncodeError:  # a key json writes with escapes (a lone surrogate)
            pass
    return json.dumps(doc).encode()


def metric_history(ctx: Ctx, body: dict[str, Any]) -> Response:
    """One metric series of a run, paged."""
    run_id = _run(ctx, body, "project.read")
    key = str(need(body, "metric_key"))
    limit = optional_int(body, "max_results", HISTORY_PAGE) or HISTORY_PAGE
    offset = decode_token(body.get("page_token"))
    if limit < 1:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"max_results must be positive: {limit}.")
    rows = metric_history_rows(ctx.store, run_id, key, limit=limit + 1, offset=offset)
    token = encode_token(offset + limit) if len(rows) > limit else None
    return Response(history_body(key, rows[:limit], token), media_type="application/json")


def list_artifacts(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    """The files and folders directly under a path of a run's artifacts."""
    run_id = _run(ctx, body, "project.read")
    folder = str(body.get("path") or "").strip("/")
    files: dict[str, dict[str, Any]] = {}
    for artifact in ctx.backend.list_artifacts(run_id, folder):
        rest = artifact.path[len(folder) :].lstrip("/") if folder else artifact.path
        if not rest:
            continue
        head, _, tail = rest.partition("/")
        path = f"{folder}/{head}" if folder else head
        if tail:
            files[path] = {"path": path, "is_dir": True}
        else:
            files[path] = {"path": path, "is_dir": False, "file_size": artifact.size}
    exp_id = mlflow_experiment_id(ctx, run_id)
    return {"root_uri": artifact_root(exp_id, run_id), "files": [files[k] for k in sorted(files)]}


ROUTES = [
    Route("POST", "/runs/create", "tracking.write", create),
    Route("POST", "/runs/update", "tracking.write", update),
    Route("GET", "/runs/get", "project.read", get),
    Route("POST", "/runs/delete", "tracking.write", delete),
    Route("POST", "/runs/restore", "tracking.write", restore),
    Route("POST", "/runs/log-metric", "tracking.write", log_metric),
    Route("POST", "/runs/log-parameter", "tracking.write", log_param),
    Route("POST", "/runs/set-tag", "tracking.write", set_tag),
    Route("POST", "/runs/delete-tag", "tracking.write", delete_tag),
    Route("POST", "/runs/log-batch", "tracking.write", log_batch),
    Route("POST", "/runs/log-model", "tracking.write", log_model),
    Route("POST", "/runs/log-inputs", "tracking.write", log_inputs),
    Route("POST", "/runs/outputs", "tracking.write", log_outputs),
    Route("POST", "/runs/search", "project.read", search),
    Route("GET", "/metrics/get-history", "project.read", metric_history),
    Route("GET", "/artifacts/list", "project.read", list_artifacts),
]
