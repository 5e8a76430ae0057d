"""What every page module uses: a router whose routes are pages, and small helpers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from relayml.web.errors import WEB_SCOPE

__all__ = ["clamp_page", "form_fields", "page_router"]


async def _mark_page(request: Request) -> None:
    request.scope[WEB_SCOPE] = True  # errors of this request answer as pages


def page_router() -> APIRouter:
    """A router for pages: HTML answers, kept out of the API's OpenAPI schema, errors as pages.

    Every route still declares its action with ``requires`` (as API routes do)."""
    return APIRouter(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[Depends(_mark_page)],
    )


def clamp_page(page: int, size: int, *, largest: int = 200) -> tuple[int, int]:
    """A page number ≥ 1 and a page size within 1..largest (bad values are clamped, not refused)."""
    return max(1, page), min(max(1, size), largest)


async def form_fields(request: Request, *names: str) -> dict[str, str]:
    """The named fields of an urlencoded form (missing ones are empty)."""
    form: Any = await request.form()
    return {name: str(form.get(name) or "") for name in names}
