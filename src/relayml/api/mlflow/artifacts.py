"""MLflow's artifact proxy, /api/2.0/mlflow-artifacts: upload, download, list, delete.

A path names a run's artifacts (``<experiment>/<run id>/artifacts/<path>``) or a logged model's
files (``<experiment>/models/<model id>/artifacts/<path>``); both are content-addressed blobs in
relayml's artifact store. Multipart uploads answer MLflow's "not supported" message, on which
the client uploads the file in one request.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import any_project, requires, run_project
from relayml.api.mlflow.common import Ctx, fields
from relayml.api.mlflow.errors import MlflowError
from relayml.interop import mlflow_logged_models as logged_models

__all__ = ["router"]

router = APIRouter(include_in_schema=False)  # MLflow's protos document these
MAX_UPLOAD = 5 * 1024**3
UNSUPPORTED_MULTIPART = "Multipart upload is not supported for the current artifact repository"


@dataclass(frozen=True)
class Target:
    """Where an artifact path points: a run's artifacts or a logged model's files."""

    kind: str  # "run" | "model"
    owner: str
    path: str


def _target(path: str) -> Target:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        return Target("model", parts[2], "/".join(parts[4:]))
    if len(parts) >= 3 and parts[2] == "artifacts":
        return Target("run", parts[1], "/".join(parts[3:]))
    raise MlflowError(
        "INVALID_PARAMETER_VALUE",
        f"artifact path {path!r} is not under <experiment>/<run id>/artifacts or "
        "<experiment>/models/<model id>/artifacts.",
    )


def _authorize(ctx: Ctx, target: Target, action: str) -> None:
    if target.kind == "run":
        ctx.check(action, str(run_project(ctx.backend, {"run_id": target.owner})))
    else:
        ctx.check(action, logged_models.get(ctx.store, target.owner).project)


def _upload(ctx: Ctx, target: Target, spool: Any) -> None:
    _authorize(ctx, target, "tracking.write")
    if not target.path:
        raise MlflowError("INVALID_PARAMETER_VALUE", "name a file to upload, not a folder.")
    if target.kind == "run":
        ctx.backend.log_artifact(target.owner, target.path, spool)
    else:
        sha256, size = ctx.backend.blobs.put_stream(spool)
        logged_models.put_file(
            ctx.store, ctx.backend.actor, target.owner, target.path, sha256, size
        )


@router.put("/artifacts/{path:path}", dependencies=[requires("tracking.write", any_project)])
async def upload(request: Request, path: str) -> Response:
    """Store the request body at an artifact path."""
    target = _target(path)
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise MlflowError("INVALID_PARAMETER_VALUE", f"artifact over {MAX_UPLOAD} bytes.")
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(_upload, Ctx(request), target, spool)
    return Response("{}", media_type="application/json")


def _open(ctx: Ctx, target: Target) -> tuple[int, Any]:
    _authorize(ctx, target, "project.read")
    if target.kind == "run":
        artifact, chunks = ctx.backend.open_artifact(target.owner, target.path)
        return artifact.size, chunks
    for path, sha256, size in logged_models.files_of(ctx.store, target.owner):
        if path == target.path:
            return size, ctx.backend.blobs.iter_chunks(sha256)
    raise MlflowError(
        "RESOURCE_DOES_NOT_EXIST", f"logged model {target.owner} has no file {target.path!r}."
    )


@router.get("/artifacts/{path:path}", dependencies=[requires("project.read", any_project)])
def download(request: Request, path: str) -> Response:
    """The bytes of an artifact."""
    size, chunks = _open(Ctx(request), _target(path))
    first = next(chunks, None)
    return StreamingResponse(
        itertools.chain([] if first is None else [first], chunks),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


def _entries(ctx: Ctx, target: Target) -> list[tuple[str, int]]:
    _authorize(ctx, target, "project.read")
    if target.kind == "run":
        return [(a.path, a.size) for a in ctx.backend.list_artifacts(target.owner)]
    return [(p, size) for p, _, size in logged_models.files_of(ctx.store, target.owner)]


@router.get("/artifacts", dependencies=[requires("project.read", any_project)])
def list_files(request: Request, path: str = "") -> Response:
    """The files and folders directly under an artifact path (names relative to it)."""
    ctx = Ctx(request)
    if not path.strip("/"):
        return Response('{"files": []}', media_type="application/json")
    target = _target(path)
    folder = target.path.strip("/")
    files: dict[str, dict[str, Any]] = {}
    for full, size in _entries(ctx, target):
        if folder and not full.startswith(folder + "/"):
            continue
        rest = full[len(folder) + 1 :] if folder else full
        head, _, tail = rest.partition("/")
        files[head] = (
            {"path": head, "is_dir": True}
            if tail
            else {"path": head, "is_dir": False, "file_size": size}
        )
    body = json.dumps({"files": [files[k] for k in sorted(files)]})
    return Response(body, media_type="application/json")


def _delete(ctx: Ctx, target: Target) -> None:
    _authorize(ctx, target, "tracking.write")
    if target.kind == "run":
        raise MlflowError(
            "INVALID_STATE",
            "the artifacts of a relayml run are immutable (the audit trail refers to them); "
            "log a new file under another path.",
        )
    logged_models.remove_file(ctx.store, ctx.backend.actor, target.owner, target.path)


@router.delete("/artifacts/{path:path}", dependencies=[requires("tracking.write", any_project)])
def delete(request: Request, path: str) -> Response:
    """Delete a logged model's file (a run's artifacts are immutable)."""
    _delete(Ctx(request), _target(path))
    return Response("{}", media_type="application/json")


async def _multipart(request: Request, path: str) -> Response:
    await fields(request)
    await run_in_threadpool(_authorize, Ctx(request), _target(path), "tracking.write")
    raise MlflowError("NOT_IMPLEMENTED", UNSUPPORTED_MULTIPART)


for _kind in ("create", "complete", "abort"):
    router.add_api_route(
        f"/mpu/{_kind}/{{path:path}}",
        _multipart,
        methods=["POST"],
        name=f"multipart_{_kind}",
        dependencies=[requires("tracking.write", any_project)],
    )
