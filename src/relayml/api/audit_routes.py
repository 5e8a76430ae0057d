"""Routes of /api/v1 for the audit chain: verify it, sign its head, list checkpoints, export.

Each needs ``audit.read`` in some project (``project_of`` names none): creating a checkpoint
only attests to what is already there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from relayml.api.auth import requires
from relayml.api.responses import ok
from relayml.api.routes import backend_of
from relayml.domain.audit_chain import AuditCheckpoint, AuditVerification
from relayml.errors import InvalidInput

__all__ = ["router"]

router = APIRouter()
LINES_PER_CHUNK = 200


def _no_project(_backend: Any, _params: dict[str, Any]) -> None:
    return None


AUDIT_READ = requires("audit.read", project_of=_no_project)


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


@router.get(
    "/audit/verify",
    tags=["audit"],
    responses=_doc(AuditVerification),
    dependencies=[AUDIT_READ],
)
def verify_audit(
    request: Request,
    entry_id: Annotated[int | None, Query(description="A checkpoint's entry id.")] = None,
    hash: Annotated[str | None, Query(description="A checkpoint's hash.")] = None,
    at: Annotated[int | None, Query(description="A checkpoint's time, epoch ms.")] = None,
    key_id: Annotated[str | None, Query(description="A checkpoint's key id.")] = None,
    signature: Annotated[str | None, Query(description="A checkpoint's signature.")] = None,
    public_key: Annotated[str | None, Query(description="A checkpoint's public key.")] = None,
    trusted_key: Annotated[
        str | None, Query(description="The key the checkpoint must be signed with (PEM/base64).")
    ] = None,
) -> Response:
    """Walk the chain and name the first broken entry; with a checkpoint's fields, check it."""
    fields = {
        "entry_id": entry_id,
        "hash": hash,
        "at": at,
        "key_id": key_id,
        "signature": signature,
        "public_key": public_key,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    checkpoint = None
    if given:
        missing = sorted(set(fields) - set(given))
        if missing:
            raise InvalidInput(
                f"a checkpoint needs all of its fields; missing: {', '.join(missing)}. Send the "
                "fields of a `relay audit checkpoint --out` file."
            )
        checkpoint = AuditCheckpoint(**given)
    result = backend_of(request).verify_audit(checkpoint, public_key=trusted_key)
    return ok(result)


@router.post(
    "/audit/checkpoints",
    tags=["audit"],
    responses={201: {"model": AuditCheckpoint}},
    status_code=201,
    dependencies=[AUDIT_READ],
)
def create_checkpoint(request: Request) -> Response:
    """Sign the chain's head with the server key and store the checkpoint."""
    return ok(backend_of(request).create_audit_checkpoint(), status_code=201)


@router.get(
    "/audit/checkpoints",
    tags=["audit"],
    responses=_doc(list[AuditCheckpoint]),
    dependencies=[AUDIT_READ],
)
def list_checkpoints(
    request: Request,
    limit: Annotated[int, Query(description="At most this many; 1: the latest.")] = 20,
) -> Response:
    """The newest stored checkpoints first."""
    return ok(backend_of(request).list_audit_checkpoints(limit))


def _lines(entries: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    chunk: list[str] = []
    for entry in entries:
        chunk.append(json.dumps(entry, ensure_ascii=False, default=str))
        if len(chunk) >= LINES_PER_CHUNK:
            yield ("\n".join(chunk) + "\n").encode()
            chunk = []
    if chunk:
        yield ("\n".join(chunk) + "\n").encode()


@router.get("/audit/export", tags=["audit"], dependencies=[AUDIT_READ])
def export_audit(
    request: Request,
    since: Annotated[int | None, Query(description="From this time, epoch ms.")] = None,
    until: Annotated[int | None, Query(description="Before this time, epoch ms.")] = None,
    actor: Annotated[str | None, Query(description="Only changes by this user.")] = None,
    kind: Annotated[str | None, Query(description="An entity type or an action.")] = None,
    entity_kind: Annotated[str | None, Query(description="Exactly this entity type.")] = None,
    entity_id: Annotated[str | None, Query(description="Only this entity.")] = None,
) -> Response:
    """Matching entries oldest first as JSON Lines (one entry with its hash per line), streamed."""
    entries = backend_of(request).export_audit(
        since=since,
        until=until,
        actor=actor,
        kind=kind,
        entity_kind=entity_kind,
        entity_id=entity_id,
    )
    first = next(entries, None)  # errors in the filters answer 422 before the stream starts

    def every() -> Iterator[dict[str, Any]]:
        if first is not None:
            yield first
            yield from entries

    return StreamingResponse(_lines(every()), media_type="application/x-ndjson")
