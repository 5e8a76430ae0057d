"""Routes of /api/v1 for lineage: the graph around a node, links, and OpenLineage events."""

from __future__ import annotations

import json
import zlib
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import any_project, requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode
from relayml.errors import InvalidInput
from relayml.lineage.local import LocalLineageOps

__all__ = ["router"]

router = APIRouter()
MAX_EVENT = 16 * 1024 * 1024  # bytes of one OpenLineage event, after decompression


class LinksIn(BaseModel):
    """Nodes and edges to record in the lineage graph."""

    nodes: list[LineageNode] = Field(default_factory=list)
    edges: list[LineageEdge] = Field(default_factory=list)


def _lineage_backend(request: Request) -> LocalLineageOps:
    # LocalBackend carries LocalLineageOps; the cast only tells the type checker.
    return cast(LocalLineageOps, backend_of(request))


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidInput(f"Content-Encoding {encoding!r} is not supported; send gzip or none.")
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, MAX_EVENT + 1)
    except zlib.error as exc:
        raise InvalidInput(f"the body is not valid {encoding} data: {exc}.") from None
    if len(data) > MAX_EVENT:
        raise InvalidInput(f"an OpenLineage event may hold at most {MAX_EVENT} bytes.")
    return data


_RUN_EVENT = {
    "type": "object",
    "description": "An OpenLineage RunEvent (spec 2-0-2), or a DatasetEvent or JobEvent. "
    "Unknown facets are kept. Content-Encoding gzip is accepted.",
    "required": ["eventTime", "producer", "run", "job"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "run": {"type": "object", "required": ["runId"]},
        "job": {"type": "object", "required": ["namespace", "name"]},
        "inputs": {"type": "array", "items": {"type": "object"}},
        "outputs": {"type": "array", "items": {"type": "object"}},
    },
}


@router.post(
    "/lineage",
    tags=["lineage"],
    status_code=201,
    responses={201: {"description": "the event is recorded"}},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _RUN_EVENT}}}
    },
    dependencies=[requires("data.write", any_project)],
)
async def post_openlineage(request: Request) -> Response:
    """Take an OpenLineage RunEvent (spec 2-0-2; gzip allowed) into the lineage graph."""
    backend = _lineage_backend(request)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_EVENT:
            raise InvalidInput(f"an OpenLineage event may hold at most {MAX_EVENT} bytes.")
    raw = _decompress(bytes(body), request.headers.get("content-encoding", "").strip().lower())
    try:
        event: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the body is not JSON ({exc}); send an OpenLineage RunEvent.") from None
    await run_in_threadpool(backend.ingest_openlineage, event)
    return ok({}, status_code=201)


@router.post(
    "/lineage/links",
    tags=["lineage"],
    status_code=204,
    dependencies=[requires("data.write", any_project)],
)
def link(request: Request, body: LinksIn) -> Response:
    """Record nodes (facets merged) and edges (idempotent) in the lineage graph."""
    _lineage_backend(request).link(body.nodes, body.edges)
    return Response(status_code=204)


@router.get(
    "/lineage/{kind}/{key:path}",
    tags=["lineage"],
    responses={200: {"model": LineageGraph}},
    dependencies=[requires("project.read", any_project)],
)
def get_lineage(
    request: Request, kind: str, key: str, depth: int = 3, direction: str = "both"
) -> Response:
    """The graph around a node: upstream, downstream or both (direction), to depth."""
    backend = _lineage_backend(request)
    return ok(backend.lineage(kind, key, depth=depth, direction=direction))
