"""MLflow's artifact proxy, /api/2.0/mlflow-artifacts: upload, download, list, delete.

A path names a run's artifacts (``<experiment>/<run id>/artifacts/<path>``) or a logged model's
files (``<experiment>/models/<model id>/artifacts/<path>``); both are content-addressed blobs in
relayml's artifact store. Multipart uploads: multipart.py.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import any_project, requires
from relayml.api.mlflow.common import Ctx
from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.multipart import add_multipart_routes
from relayml.api.mlflow.paths import Target, authorize, spooled_body, store_upload, target_of
from relayml.interop import mlflow_logged_models as logged_models

__all__ = ["router"]

router = APIRouter(include_in_schema=False)  # MLflow's protos document these
MAX_UPLOAD = 5 * 1024**3


@router.put("/artifacts/{path:path}", dependencies=[requires("tracking.write", any_project)])
async def upload(request: Request, path: str) -> Response:
    """Store the request body at an artifact path."""
    target = target_of(path)
    async with spooled_body(request, MAX_UPLOAD) as spool:
        await run_in_threadpool(store_upload, Ctx(request), target, spool)
    return Response("{}", media_type="application/json")


def _open(ctx: Ctx, target: Target) -> tuple[int, Any]:
    authorize(ctx, target, "project.read")
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
    size, chunks = _open(Ctx(request), target_of(path))
    first = next(chunks, None)
    return StreamingResponse(
        itertools.chain([] if first is None else [first], chunks),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


def _entries(ctx: Ctx, target: Target) -> list[tuple[str, int]]:
    authorize(ctx, target, "project.read")
    if target.kind == "run":
        return [(a.path, a.size) for a in ctx.backend.list_artifacts(target.owner)]
    return [(p, size) for p, _, size in logged_models.files_of(ctx.store, target.owner)]


@router.get("/artifacts", dependencies=[requires("project.read", any_project)])
def list_files(request: Request, path: str = "") -> Response:
    """The files and folders directly under an artifact path (names relative to it)."""
    ctx = Ctx(request)
    if not path.strip("/"):
        return Response('{"files": []}', media_type="application/json")
    target = target_of(path)
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
    authorize(ctx, target, "tracking.write")
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
    _delete(Ctx(request), target_of(path))
    return Response("{}", media_type="application/json")


add_multipart_routes(router)
