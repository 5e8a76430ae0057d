"""Feedback triage: the flags people raised on predictions, filtered, and resolved with a note."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.errors import RelayError
from relayml.web.pages.common import clamp_page, form_fields, page_router
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()
STATUSES = {"open": "open", "resolved": "resolved", "all": None}


def _triage(
    request: Request,
    project: str,
    *,
    status: str = "open",
    model: str = "",
    kind: str = "",
    page_number: int = 1,
    size: int = 50,
    code: int = 200,
    notice: str = "",
    error: str = "",
) -> Response:
    backend = backend_of(request)
    models = [m.name for m in backend.list_models(project)]
    status = status if status in STATUSES else "open"
    flags = backend.list_flags(project, model or None, STATUSES[status])
    if kind in ("wrong", "unexpected"):
        flags = [f for f in flags if f.kind == kind]
    page_number, size = clamp_page(page_number, size)
    shown = flags[(page_number - 1) * size : page_number * size]
    base = f"/projects/{quote(project)}/feedback?" + urlencode(
        {"status": status, "model": model, "kind": kind}
    )
    return page(
        request,
        "feedback/triage.html",
        status=code,
        project=project,
        flags=shown,
        total=len(flags),
        chosen=status,
        model=model,
        kind=kind,
        models=models,
        page_number=page_number,
        size=size,
        has_next=len(flags) > page_number * size,
        base=base,
        notice=notice,
        error=error,
    )


@router.get("/projects/{project}/feedback")
def feedback_page(
    request: Request,
    project: str,
    status: str = "open",
    model: str = "",
    kind: str = "",
    page: int = 1,
    size: int = 50,
    identity: Identity = requires("project.read"),
) -> Response:
    """Open or resolved flags, by model and kind, a page at a time."""
    done = "Resolved." if request.query_params.get("done") else ""
    return _triage(
        request,
        project,
        status=status,
        model=model,
        kind=kind,
        page_number=page,
        size=size,
        notice=done,
    )


@router.post("/projects/{project}/feedback/{flag_id}/resolve")
async def resolve(
    request: Request,
    project: str,
    flag_id: int,
    identity: Identity = requires("feedback.resolve"),
) -> Response:
    """Close a flag, saying what was done about it."""
    form = await form_fields(request, "resolution")
    backend = backend_of(request).with_actor(identity.name)
    try:
        backend.resolve_flag(project, flag_id, form["resolution"])
    except RelayError as exc:
        return _triage(request, project, code=exc.http_status, error=exc.message)
    return RedirectResponse(f"/projects/{quote(project)}/feedback?done=resolved", status_code=303)
