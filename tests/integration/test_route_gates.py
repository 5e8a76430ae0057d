"""The gates at the head of the app's routes (relayml.api.route_gate) change no routing: for every
route's path, filled in, with every method, and for paths near them, the route a gate picks is
the one the app's own walk over its routes picks (the first full match, else the first partial
one), or the gate declines and the walk is all there is."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from relayml.api.app import create_app
from relayml.api.route_gate import RouteGate, templates_of
from relayml.backend import LocalBackend
from relayml.config import get_settings

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    home = tmp_path_factory.mktemp("gates")
    return create_app(LocalBackend(get_settings(home=home, monitor_interval=0)), auth=True)


def _fill(template: str) -> str:
    values = {"int": "7", "path": "a/b.txt", "float": "1.5"}
    return re.sub(
        r"\{(\w+)(?::(\w+))?\}", lambda m: values.get(m.group(2) or "", f"{m.group(1)}-1"), template
    )


def _paths(app: FastAPI) -> list[str]:
    """Every route's path filled in, and its neighbours: a trailing slash, one more segment,
    an unknown family beside it."""
    paths = set()
    for route in app.router.routes:
        for template in templates_of(route) or []:
            path = _fill(template)
            paths |= {path, path + "/", path + "/extra", re.sub(r"/[^/]+$", "/no-such", path)}
    paths |= {"/api/v1/projects/p/", "/api/v1/projects/p//x", "/api/v1/projects/p/runs%2Fx"}
    return sorted(paths)


def _scope(path: str, method: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": [],
            "query_string": b""}  # fmt: skip


def _walk(routes: list[BaseRoute], path: str, method: str) -> BaseRoute | None:
    partial = None
    for route in routes:
        match, _ = route.matches(_scope(path, method))
        if match == Match.FULL:
            return route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial


def test_each_gate_picks_the_route_the_walk_picks(app: FastAPI) -> None:
    gates = [r for r in app.router.routes if isinstance(r, RouteGate)]
    assert [g.name for g in gates] == ["mlflow", "api-families"]
    assert app.router.routes[: len(gates)] == gates  # tried before any route
    behind = [r for r in app.router.routes if not isinstance(r, RouteGate)]
    paths = _paths(app)
    assert len(paths) > 300
    gated = 0
    for path in paths:
        for method in METHODS:
            walked = _walk(behind, path, method)
            for gate in gates:
                match, child = gate.matches(_scope(path, method))
                if match == Match.NONE:
                    continue  # declined: the walk alone routes it
                gated += 1
                assert child["relayml.gated_route"] is walked, (gate.name, method, path)
                break
    assert gated > 500  # most API and MLflow paths go through a gate


def test_the_families_gate_tries_only_the_routers_of_the_family(app: FastAPI) -> None:
    families = next(r for r in app.router.routes if isinstance(r, RouteGate) and r.name != "mlflow")
    chosen = families.select("/api/v1/projects/churn/feature-sets/customer/online")
    assert chosen is not None and len(chosen) == 1
    assert any("/online" in t for t in templates_of(chosen[0]) or [])
    declined = ["/api/v1/projects", "/api/v1/projects/churn", "/healthz", "/projects/churn",
                "/api/v1/projects/churn/no-such-family/x", "/api/2.0/mlflow/runs/get"]  # fmt: skip
    for path in declined:
        assert families.select(path) is None, path


def test_a_route_that_may_match_any_family_keeps_its_place() -> None:
    """Routes of every kind the gate reads, overlapping on purpose: a parameter where the family
    goes, a `:path` parameter, a mount, a router's own prefix, two routers answering one path
    with different methods; the gate picks what the walk picks, in the walk's order."""
    from fastapi import APIRouter
    from starlette.routing import Mount

    from relayml.api.route_gate import family_gate

    def answer() -> dict[str, str]:
        return {}

    first, second, third = APIRouter(), APIRouter(prefix="/projects/{project}"), APIRouter()
    first.add_api_route("/projects/{project}/runs/search", answer, methods=["POST"])
    second.add_api_route("/{kind}/special", answer, methods=["GET"])  # any family
    second.add_api_route("/runs/search", answer, methods=["GET"])
    third.add_api_route("/projects/{project}/runs/{rest:path}", answer, methods=["GET"])
    third.add_api_route("/projects/{project}/files/{name}", answer, methods=["GET", "PUT"])
    app = FastAPI()
    for router in (first, second, third):
        app.include_router(router, prefix="/api/v1")
    app.router.routes.append(Mount("/api/v1/projects/{project}/static", app=_nothing))
    gate = family_gate(list(app.router.routes))
    behind = list(app.router.routes)
    for path in ("/api/v1/projects/p/runs/search", "/api/v1/projects/p/runs/special",
                 "/api/v1/projects/p/files/special", "/api/v1/projects/p/files/a",
                 "/api/v1/projects/p/runs/a/b", "/api/v1/projects/p/static/x"):  # fmt: skip
        for method in METHODS:
            walked = _walk(behind, path, method)
            match, child = gate.matches(_scope(path, method))
            if match != Match.NONE:
                assert child["relayml.gated_route"] is walked, (method, path)
            else:
                assert walked is None, (method, path)  # here every path has a family


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that the test never calls (only its mount's path is matched)."""
