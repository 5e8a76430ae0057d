"""The web pages of `relay server`: server-rendered (Jinja2) with htmx, at ``/``.

Pages call the same services as the API (the app's LocalBackend), never the API over HTTP. A page
route declares its action with ``requires`` exactly like an API route (the permission test walks
both); a refused page is an HTML page, and a page asked for without a session redirects to
``/sign-in``. Browser libraries are served from ``/static/vendor`` (built from the npm registry by
scripts/build-web-assets.sh, never committed, never fetched from a CDN).
"""

from __future__ import annotations

from relayml.web.mount import mount_web

__all__ = ["mount_web"]
