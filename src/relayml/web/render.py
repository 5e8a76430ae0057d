"""Render a page: the Jinja2 environment, the context every page shares, the security headers.

Every template gets ``me`` (the identity), ``csrf`` (the session's token, for forms), ``can``
(may the viewer take this action here? buttons a role may not use are not drawn), ``projects``
(those the viewer may read, for the navigation) and ``project`` (the current one, if any).
Templates never use inline scripts or styles: the Content-Security-Policy forbids them, so
charts and graphs read their data from ``<script type="application/json">`` islands.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from relayml import __version__
from relayml.api.auth import acting_identity
from relayml.api.sessions import csrf_token
from relayml.domain.identity import Identity
from relayml.errors import NotFound, PermissionDenied
from relayml.identity import access
from relayml.web.nav import PROJECT_AREAS, SITE_AREAS

__all__ = ["SECURITY_HEADERS", "backend_of", "environment", "page", "viewer_can"]

TEMPLATES = Path(__file__).parent / "templates"
# The CSRF token of the page being rendered: macros imported without context read it through
# the global current_csrf(), so a form can never be drawn with an empty token.
_CSRF: contextvars.ContextVar[str] = contextvars.ContextVar("relay_csrf", default="")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def backend_of(request: Request) -> Any:
    """The app's LocalBackend: pages call the services in-process, like the API routes."""
    return request.app.state.backend


def number(value: Any, digits: int = 3) -> str:
    """A figure for people: thousands separated, never in exponent notation."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.1f}"
    if magnitude == 0 or magnitude >= 0.001:
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def when(value: Any) -> str:
    """A time as people read it: 2026-12-02 14:05 UTC (the exact value is in the title)."""
    if value is None:
        return "—"
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return str(value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return str(value)


def duration(seconds: Any) -> str:
    """A duration as people read it: 850 ms, 12.3 s, 4 min 05 s, 2 h 10 min."""
    if seconds is None:
        return "—"
    s = float(seconds)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def json_island(element_id: str, data: Any) -> Markup:
    """Data for a chart or a graph, as a JSON script element the page's script reads."""
    text = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/json" id="{element_id}">{text}</script>')


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment (autoescaped; built once)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, when=when, duration=duration)
    env.globals.update(json_island=json_island, version=__version__, current_csrf=_CSRF.get)
    return env


def viewer_can(request: Request, identity: Identity, action: str, project: str | None) -> bool:
    """May the viewer take ``action`` (in ``project``)? Cached for the request."""
    cache: dict[tuple[str, str | None], bool] = request.scope.setdefault("relay.can", {})
    key = (action, project)
    if key not in cache:
        try:
            access.check(backend_of(request).store, identity, action, project)
            cache[key] = True
        except (PermissionDenied, NotFound):
            cache[key] = False
    return cache[key]


def _readable_projects(request: Request, identity: Identity) -> list[str]:
    backend = backend_of(request)
    visible = access.visible_projects(backend.store, identity)
    names = [p.name for p in backend.list_projects()]
    return [n for n in names if visible is None or n in visible]


def page(
    request: Request, template: str, *, status: int = 200, project: str | None = None, **ctx: Any
) -> HTMLResponse:
    """Render ``template`` with the shared context; the response carries the security headers."""
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is None and template != "sign_in.html":
        identity = acting_identity(request)
    context: dict[str, Any] = {
        "request": request,
        "me": identity,
        "csrf": csrf_token(request) or "",
        "project": project,
        "projects": _readable_projects(request, identity) if identity else [],
        "can": (lambda action, where=project: viewer_can(request, identity, action, where))
        if identity
        else (lambda *_a, **_k: False),
        "path": request.url.path,
        "site_areas": SITE_AREAS,
        "project_areas": PROJECT_AREAS,
        **ctx,
    }
    _CSRF.set(context["csrf"])
    html = environment().get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
