"""Errors on pages are pages: a refused or missing thing shows an HTML page saying so, and a page
asked for without a session shows the sign-in form (status 401) that comes back to it."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from relayml.errors import RelayError, Unauthenticated
from relayml.web.render import page

__all__ = ["WEB_SCOPE", "page_error", "wants_page"]

log = logging.getLogger("relayml.web")
WEB_SCOPE = "relay.web"
_NOT_PAGES = ("/api/", "/ajax-api/", "/auth/", "/static/", "/v2", "/healthz", "/readyz", "/metrics")
TITLES = {
    401: "Sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Refused",
    422: "Not valid",
    429: "Too many attempts",
    503: "Unavailable",
}


def wants_page(request: Request) -> bool:
    """Is this a request of the web pages (a page route, or a browser's GET of no API path)?"""
    if request.scope.get(WEB_SCOPE):
        return True
    path = request.url.path
    accepts_html = "text/html" in request.headers.get("accept", "")
    return request.method == "GET" and accepts_html and not path.startswith(_NOT_PAGES)


def page_error(request: Request, exc: RelayError | None, status: int = 500) -> Response:
    """The HTML answer to an error on a page (sign-in form for 401)."""
    status = exc.http_status if exc is not None else status
    message = exc.message if exc is not None else "something went wrong; see the server's log."
    if isinstance(exc, Unauthenticated):
        request.state.identity = None
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            # a browser: to the sign-in form, and back here after it
            where = "/sign-in?" + urlencode({"next": _next_of(request)})
            return RedirectResponse(where, status_code=303)
        return page(
            request,
            "sign_in.html",
            status=401,
            next=_next_of(request),
            error=None,
            sso=_sso(request),
        )
    try:
        return page(
            request, "error.html", status=status, title=TITLES.get(status, "Error"), message=message
        )
    except RelayError:  # the error happened before anyone was identified: no navigation
        request.state.identity = None
        return HTMLResponse(
            f"<!doctype html><title>{TITLES.get(status, 'Error')}</title><p>{_escape(message)}",
            status_code=status,
        )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _next_of(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return target if request.method == "GET" else "/"


def _sso(request: Request) -> bool:
    single = getattr(request.app.state, "single_sign_on", None)
    return bool(single is not None and single.configured)
