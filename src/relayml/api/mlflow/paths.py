"""What the artifact proxy's routes share: where an artifact path points, who may write or read
it, the request body spooled, and storing an upload there (artifacts.py, multipart.py)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

from fastapi import Request

from relayml.api.auth import run_project
from relayml.api.mlflow.common import Ctx
from relayml.api.mlflow.errors import MlflowError
from relayml.interop import mlflow_logged_models as logged_models

__all__ = ["Target", "authorize", "spooled_body", "store_upload", "target_of"]


@dataclass(frozen=True)
class Target:
    """Where an artifact path points: a run's artifacts or a logged model's files."""

    kind: str  # "run" | "model"
    owner: str
    path: str


def target_of(path: str) -> Target:
    """The run or logged model an artifact path names, and the path inside it."""
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


def authorize(ctx: Ctx, target: Target, action: str) -> None:
    """PermissionDenied unless the caller may take action in the target's project."""
    if target.kind == "run":
        ctx.check(action, str(run_project(ctx.backend, {"run_id": target.owner})))
    else:
        ctx.check(action, logged_models.get(ctx.store, target.owner).project)


def store_upload(ctx: Ctx, target: Target, stream: IO[bytes] | Any) -> None:
    """Store what a binary stream yields at the target (a file path), after checking the write."""
    authorize(ctx, target, "tracking.write")
    if not target.path:
        raise MlflowError("INVALID_PARAMETER_VALUE", "name a file to upload, not a folder.")
    if target.kind == "run":
        ctx.backend.log_artifact(target.owner, target.path, stream)
    else:
        sha256, size = ctx.backend.blobs.put_stream(stream)
        logged_models.put_file(
            ctx.store, ctx.backend.actor, target.owner, target.path, sha256, size
        )


@asynccontextmanager
async def spooled_body(request: Request, limit: int) -> AsyncIterator[IO[bytes]]:
    """The request body, read into memory (to 8 MiB) or a temporary file; over limit bytes is
    INVALID_PARAMETER_VALUE."""
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise MlflowError("INVALID_PARAMETER_VALUE", f"artifact over {limit} bytes.")
            spool.write(chunk)
        spool.seek(0)
        yield spool
