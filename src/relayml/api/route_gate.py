"""Gates in front of the app's routes: for a request path, only the routes that can answer it.

The app's router tries its routes in order, and FastAPI rules a route out at a cost (each
included router walks its own routes, twice for the one that answers): a call near the end of
the list paid ~0.35 ms before any work on this machine. A ``RouteGate`` is a route at the head of
the list that, for the paths it knows, tries only the routes its ``select`` names, in their
order in the app, and declines every other path. The routes behind it stay in their place in
the app too (route listings and the OpenAPI walk see them, not the gate, which declares no path
or method), so a path the gate declines is routed exactly as before.

``family_gate`` indexes the platform API by family, the segment after the project
(``/api/v1/projects/{project}/<family>/...``), from the routes' own path templates: a route
whose template cannot match a family is never tried for it, a route that could match any (a
parameter there, a ``:path`` parameter, a route of a kind it cannot read) is tried for all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount, NoMatchFound
from starlette.types import Receive, Scope, Send

__all__ = ["FAMILY_PREFIX", "RouteGate", "family_gate", "templates_of"]

_SELECTED = "relayml.gated_route"
FAMILY_PREFIX = ("", "api", "v1", "projects")  # then {project}, then the family
_ANY = "*"  # a route that may match any family


class RouteGate(BaseRoute):
    """Tries ``select(path)``'s routes, the first full match winning (as the app's router
    does); None from ``select`` declines the path."""

    def __init__(self, select: Callable[[str], Sequence[BaseRoute] | None], name: str) -> None:
        self.select = select
        self.name = name

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        routes = self.select(path)
        if not routes:
            return Match.NONE, {}
        partial: tuple[BaseRoute, Scope] | None = None
        for route in routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                return Match.FULL, {**child, _SELECTED: route}
            if match == Match.PARTIAL and partial is None:
                partial = (route, child)
        if partial is not None:
            return Match.PARTIAL, {**partial[1], _SELECTED: partial[0]}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)  # the routes behind answer for themselves

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_SELECTED)
        await route.handle(scope, receive, send)


def templates_of(route: BaseRoute) -> list[str] | None:
    """The path templates a route answers (a mount's ends in a ``:path`` parameter), or None
    when they cannot be read (a gate, a host route, an unknown kind)."""
    included = getattr(route, "original_router", None)  # FastAPI's included router
    if included is not None:
        context = getattr(route, "include_context", None)
        prefix = getattr(context, "prefix", None)
        if not isinstance(prefix, str):
            return None
        found: list[str] = []
        for inner in included.routes:  # its own routes only: a router within is not read
            path = getattr(inner, "path", None)
            if getattr(inner, "original_router", None) is not None or not isinstance(path, str):
                return None
            found.append(prefix + path + ("/{path:path}" if isinstance(inner, Mount) else ""))
        return found
    if isinstance(route, Mount):
        return [route.path.rstrip("/") + "/{path:path}"]
    path = getattr(route, "path", None)
    if isinstance(route, RouteGate) or not isinstance(path, str):
        return None
    return [path]


def _family(template: str) -> str | None:
    """The family a template answers under /api/v1/projects/{project}/: its literal segment,
    _ANY for a parameter there (or a ``:path`` parameter before it), None when it cannot
    match such a path at all."""
    parts = template.split("/")
    for i, part in enumerate(parts[: len(FAMILY_PREFIX) + 2]):
        if "{" in part and (":path}" in part or i == len(FAMILY_PREFIX) + 1):
            return _ANY
        if i < len(FAMILY_PREFIX) and "{" not in part and part != FAMILY_PREFIX[i]:
            return None
    if len(parts) < len(FAMILY_PREFIX) + 2:
        return None  # too short for a family (no parameter of it takes a "/")
    return parts[len(FAMILY_PREFIX) + 1]


def family_gate(routes: Sequence[BaseRoute]) -> RouteGate:
    """The gate of the platform API's families over the app's routes (in their order)."""
    families: list[set[str]] = []
    for route in routes:
        templates = templates_of(route)
        if templates is None:
            families.append({_ANY})
        else:
            families.append({f for f in map(_family, templates) if f is not None})
    names = {f for found in families for f in found} - {_ANY}
    index = {
        name: [r for r, found in zip(routes, families, strict=True) if found & {name, _ANY}]
        for name in names
    }
    depth = len(FAMILY_PREFIX) + 1

    def select(path: str) -> Sequence[BaseRoute] | None:
        parts = path.split("/", depth + 1)
        if len(parts) <= depth or tuple(parts[: len(FAMILY_PREFIX)]) != FAMILY_PREFIX:
            return None
        return index.get(parts[depth])  # an unknown family: declined, routed as before

    return RouteGate(select, "api-families")
