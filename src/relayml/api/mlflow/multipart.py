"""Multipart uploads through the artifact proxy (mlflow_artifacts.proto: CreateMultipartUpload,
CompleteMultipartUpload, AbortMultipartUpload), which the MLflow client uses for large files
when MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD is true.

``mpu/create/<folder>`` answers an upload id and one URL per part; each URL points back here
(``mpu/upload/<id>/<part>``) and its headers repeat the caller's own Authorization (the client
PUTs a part with exactly the headers it is given), so a part is checked like any write.
Parts wait under ``$RELAY_HOME/tmp/mlflow-mpu/<id>/`` (on the server that took them: with
several servers behind a balancer, route an upload's calls to one); ``mpu/complete`` streams
them, in order, into the artifact as one content-addressed blob, recorded and audited as a
single upload is; ``mpu/abort`` drops them (and each new upload drops those untouched for a
week). The file lands at ``<folder>/<basename of path>``, as MLflow's proxy names it.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import any_project, requires
from relayml.api.mlflow.common import Ctx, fields, optional_int
from relayml.api.mlflow.errors import MlflowError
from relayml.api.mlflow.paths import Target, authorize, spooled_body, store_upload, target_of

__all__ = ["add_multipart_routes"]

MAX_PARTS = 10_000
MAX_PART = 5 * 1024**3
STALE = 7 * 24 * 3600  # an upload neither completed nor aborted for a week is dropped
_ID = re.compile(r"[0-9a-f]{32}")
_CHUNK = 1024 * 1024


def _folder(ctx: Ctx, upload_id: Any) -> Path:
    if not isinstance(upload_id, str) or not _ID.fullmatch(upload_id):
        raise MlflowError("INVALID_PARAMETER_VALUE", f"invalid upload_id {upload_id!r}.")
    folder = Path(ctx.backend.settings.home) / "tmp" / "mlflow-mpu" / upload_id
    if not (folder / "upload.json").is_file():
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST",
            f"no multipart upload {upload_id} (completed, aborted, or made on another server).",
        )
    return folder


def _manifest(ctx: Ctx, upload_id: Any) -> tuple[Path, dict[str, Any], Target]:
    """The upload's folder, what create recorded, and its target, re-authorized for writing."""
    folder = _folder(ctx, upload_id)
    manifest = json.loads((folder / "upload.json").read_text())
    target = Target(manifest["kind"], manifest["owner"], manifest["path"])
    authorize(ctx, target, "tracking.write")
    return folder, manifest, target


def _create(ctx: Ctx, folder_path: str, body: dict[str, Any], base: str) -> dict[str, Any]:
    folder = target_of(folder_path)
    name = posixpath.basename(str(body.get("path") or "").replace("\\", "/"))
    if not name:
        raise MlflowError("INVALID_PARAMETER_VALUE", "name the file to upload in 'path'.")
    parts = optional_int(body, "num_parts", 1) or 1
    if not 1 <= parts <= MAX_PARTS:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"num_parts must be 1 to {MAX_PARTS}, got {parts}."
        )
    path = posixpath.join(folder.path, name) if folder.path else name
    target = Target(folder.kind, folder.owner, path)
    authorize(ctx, target, "tracking.write")
    upload_id = uuid.uuid4().hex
    uploads = Path(ctx.backend.settings.home) / "tmp" / "mlflow-mpu"
    _sweep(uploads)
    staging = uploads / upload_id
    staging.mkdir(parents=True)
    manifest: dict[str, Any] = {"kind": target.kind, "owner": target.owner, "path": target.path}
    manifest |= {"num_parts": parts, "created_ms": int(time.time() * 1000)}
    (staging / "upload.json").write_text(json.dumps(manifest))
    auth = ctx.request.headers.get("authorization")
    headers = {"Authorization": auth} if auth else {}
    url = f"{base}/api/2.0/mlflow-artifacts/mpu/upload/{upload_id}"
    credentials = [
        {"url": f"{url}/{n}", "part_number": n, "headers": headers} for n in range(1, parts + 1)
    ]
    return {"upload_id": upload_id, "credentials": credentials}


def _sweep(uploads: Path) -> None:
    """Drop the parts of uploads started over STALE seconds ago and never completed."""
    if not uploads.is_dir():
        return
    oldest = time.time() - STALE
    for entry in os.scandir(uploads):
        try:
            stale = entry.is_dir() and entry.stat().st_mtime < oldest
        except FileNotFoundError:  # completed meanwhile
            continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)


def _save_part(ctx: Ctx, upload_id: str, number: int, spool: IO[bytes]) -> str:
    folder, manifest, _ = _manifest(ctx, upload_id)
    if not 1 <= number <= int(manifest["num_parts"]):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"part {number} is not in 1..{manifest['num_parts']} of upload {upload_id}.",
        )
    digest = hashlib.md5(usedforsecurity=False)
    tmp = folder / f".part-{number}.{uuid.uuid4().hex}"
    with open(tmp, "wb") as out:
        while chunk := spool.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    os.replace(tmp, folder / f"part-{number:05d}")
    return digest.hexdigest()


def _chained(files: list[Path]) -> Iterator[bytes]:
    for path in files:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk


class _Joined:
    """The parts, in order, as one binary stream (what the blob store reads)."""

    def __init__(self, files: list[Path]) -> None:
        self._chunks = _chained(files)
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._rest) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._rest += chunk
        if size < 0:
            out, self._rest = self._rest, b""
        else:
            out, self._rest = self._rest[:size], self._rest[size:]
        return out


def _complete(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    folder, manifest, target = _manifest(ctx, body.get("upload_id"))
    count = int(manifest["num_parts"])
    files = [folder / f"part-{n:05d}" for n in range(1, count + 1)]
    missing = [n for n, f in enumerate(files, 1) if not f.is_file()]
    if missing:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"upload {body.get('upload_id')} lacks part(s) {', '.join(map(str, missing[:10]))}; "
            "upload every part before completing it.",
        )
    store_upload(ctx, target, _Joined(files))
    shutil.rmtree(folder, ignore_errors=True)
    return {}


def _abort(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    folder, _, _ = _manifest(ctx, body.get("upload_id"))
    shutil.rmtree(folder, ignore_errors=True)
    return {}


async def create(request: Request, path: str) -> Response:
    """Start a multipart upload of <folder>/<basename of body.path>: its id and part URLs."""
    body = await fields(request)
    base = str(request.base_url).rstrip("/")
    answer = await run_in_threadpool(_create, Ctx(request), path, body, base)
    return Response(json.dumps(answer), media_type="application/json")


async def complete(request: Request, path: str) -> Response:
    """Join the uploaded parts into the artifact."""
    body = await fields(request)
    answer = await run_in_threadpool(_complete, Ctx(request), body)
    return Response(json.dumps(answer), media_type="application/json")


async def abort(request: Request, path: str) -> Response:
    """Drop an upload's parts."""
    body = await fields(request)
    answer = await run_in_threadpool(_abort, Ctx(request), body)
    return Response(json.dumps(answer), media_type="application/json")


async def upload_part(request: Request, upload_id: str, part: int) -> Response:
    """Keep one part (its MD5 is the ETag, as S3 answers)."""
    async with spooled_body(request, MAX_PART) as spool:
        etag = await run_in_threadpool(_save_part, Ctx(request), upload_id, part, spool)
    return Response("{}", media_type="application/json", headers={"ETag": f'"{etag}"'})


def add_multipart_routes(router: APIRouter) -> None:
    """Mount create, complete, abort and the part uploads on the artifact proxy's router."""
    write = [requires("tracking.write", any_project)]
    for kind, handler in (("create", create), ("complete", complete), ("abort", abort)):
        router.add_api_route(
            f"/mpu/{kind}/{{path:path}}",
            handler,
            methods=["POST"],
            name=f"multipart_{kind}",
            dependencies=write,
        )
    router.add_api_route(
        "/mpu/upload/{upload_id}/{part}",
        upload_part,
        methods=["PUT"],
        name="multipart_upload_part",
        dependencies=write,
    )
