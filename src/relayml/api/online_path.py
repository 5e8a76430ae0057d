"""Online feature lookups answered ahead of FastAPI's routing and dependency solving.

``GET /api/v1/projects/{project}/feature-sets/{name}/online`` is on the serving path of the
applications that call it (issue #15: p99 of at most 5 ms for one entity). Through FastAPI a
lookup pays for the route walk, the dependency solving and two trips to a worker thread (the
permission check, then the route), several times the lookup itself. ``OnlineLookups`` answers a
plain, permitted lookup with one trip: the same ``authorize`` the route's ``requires`` runs, the
same backend call, the same ``ok`` response. Anything else goes to the app unchanged: another
path or query, and every failure (no identity, no permission, no such set, a bad key ...), so
that each error keeps the one shape, status and message the route gives it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from relayml.api.auth import authorize, project_param
from relayml.api.responses import ok

__all__ = ["OnlineLookups", "lookup_of"]

_PREFIX = "/api/v1/projects/"
_READ = ("project.read",)
_PROJECT = project_param()


def lookup_of(path: str, query: bytes) -> tuple[str, str, list[str], str] | None:
    """(project, feature set, keys, environment) of a plain lookup; None for anything else.

    The query is read as Starlette reads it; only ``keys`` (one or more) and at most one
    ``environment`` may be in it."""
    if not path.startswith(_PREFIX) or not path.endswith("/online"):
        return None
    parts = path[len(_PREFIX) :].split("/")
    if len(parts) != 4 or parts[1] != "feature-sets" or not parts[0] or not parts[2]:
        return None
    keys: list[str] = []
    environments: list[str] = []
    for field, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if field == "keys":
            keys.append(value)
        elif field == "environment":
            environments.append(value)
        else:
            return None
    if not keys or len(environments) > 1:
        return None
    return parts[0], parts[2], keys, environments[0] if environments else "production"


class OnlineLookups:
    """ASGI middleware: plain online lookups answered directly, the rest passed to `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.answered = 0  # lookups answered here (the others went to the app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            found = lookup_of(scope["path"], scope.get("query_string", b""))
            if found is not None:
                response = await run_in_threadpool(self._answer, Request(scope), *found)
                if response is not None:
                    self.answered += 1
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    def _answer(
        request: Request, project: str, name: str, keys: list[str], environment: str
    ) -> Response | None:
        params = {"project": project, "name": name}
        try:
            authorize(request, _READ, _PROJECT, params)
            values = request.app.state.backend.online_features(
                project, name, keys, environment=environment
            )
        except Exception:  # the route answers it again, with its own error shape and logging
            return None
        return ok(values)
