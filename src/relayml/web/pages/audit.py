"""The auditor's page: the audit log, paged and filtered, and the chain's verification.

Walking the whole chain reads every entry, so the page does not verify on each view: it shows
the newest signed checkpoints and a "verify now" button (htmx swaps in the result; without
scripts the form posts and the page comes back with it). Entries are read newest first, a
bounded page at a time (keyset paging by entry id: ``before``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import requires
from relayml.domain.entities import AuditQuery
from relayml.domain.identity import Identity
from relayml.errors import InvalidInput
from relayml.governance.audit import parse_entity
from relayml.web.pages.common import page_router
from relayml.web.render import page

__all__ = ["router"]

router = page_router()
PAGE_SIZES = (25, 50, 100, 200)
CHECKPOINTS_SHOWN = 5


def _no_project(_backend: Any, _params: dict[str, Any]) -> str | None:
    return None


def _day(text: str, name: str, *, end: bool = False) -> int | None:
    """A YYYY-MM-DD day as epoch ms (its start; with ``end``, the next day's start)."""
    if not text.strip():
        return None
    try:
        day = dt.datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise InvalidInput(f"{name} must be a day like 2026-12-02, got {text!r}.") from None
    if end:
        day += dt.timedelta(days=1)
    return int(day.timestamp() * 1000)


def _query(filters: dict[str, str], before: int | None, size: int) -> AuditQuery:
    entity_kind = entity_id = None
    if filters["entity"].strip():
        entity_kind, entity_id = parse_entity(filters["entity"])
    return AuditQuery(
        actor=filters["actor"].strip() or None,
        kind=filters["kind"].strip() or None,
        entity_kind=entity_kind,
        entity_id=entity_id,
        since=_day(filters["since"], "from"),
        until=_day(filters["until"], "to", end=True),
        before=before,
        limit=size,
    )


def _audit_page(
    request: Request, filters: dict[str, str], before: int | None, size: int, verified: Any
) -> Response:
    backend = request.app.state.backend
    size = size if size in PAGE_SIZES else 50
    entries = backend.list_audit(_query(filters, before, size + 1))
    has_more = len(entries) > size
    entries = entries[:size]
    kept = {k: v for k, v in filters.items() if v}
    older = ""
    if has_more and entries:
        older = "/audit?" + urlencode({**kept, "before": entries[-1].id, "size": size})
    return page(
        request,
        "governance/audit.html",
        entries=entries,
        filters=filters,
        size=size,
        sizes=PAGE_SIZES,
        older=older,
        newest="/audit?" + urlencode({**kept, "size": size}) if before else "",
        checkpoints=backend.list_audit_checkpoints(CHECKPOINTS_SHOWN),
        verified=verified,
    )


@router.get("/audit")
def audit_page(
    request: Request,
    actor: str = "",
    kind: str = "",
    entity: str = "",
    since: str = "",
    until: str = "",
    before: int | None = None,
    size: int = 50,
    identity: Identity = requires("audit.read", project_of=_no_project),
) -> Response:
    """A page of the audit log, newest first, with filters and the latest checkpoints."""
    filters = {"actor": actor, "kind": kind, "entity": entity, "since": since, "until": until}
    return _audit_page(request, filters, before, size, None)


@router.post("/audit/verify")
async def verify_now(
    request: Request, identity: Identity = requires("audit.read", project_of=_no_project)
) -> Response:
    """Walk the chain now: a fragment for htmx, or the audit page with the result."""
    backend = request.app.state.backend
    verified = await run_in_threadpool(backend.verify_audit)
    if request.headers.get("hx-request") == "true":
        return page(request, "governance/_verified.html", verified=verified)
    empty = dict.fromkeys(("actor", "kind", "entity", "since", "until"), "")
    return await run_in_threadpool(_audit_page, request, empty, None, 50, verified)
