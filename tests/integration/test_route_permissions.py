"""Deny by default: every route declares its action, and every role gets exactly what the table
grants on every route (403 otherwise, 401 without a token).

One app with auth on over a real SQLite store (FastAPI's TestClient, for speed), one project with
a run, an artifact, a model version, a dataset, a deployment and a pipeline run, one user per
project role, an administrator and a signed-in user who holds no role.

A new route must declare its action, and the reviewed tables here say what each route needs:
PUBLIC_ROUTES, OTHER_READS (reads that need more or less than project.read) and WRITES.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from relayml.api.app import create_app
from relayml.api.auth import DeclaredRoute, declared_routes, requires
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.domain.identity import Identity
from relayml.domain.models import ColumnSpec, ModelFile, Signature
from relayml.domain.permissions import ADMIN_ONLY, ALL_ROLES, PUBLIC, SIGNED_IN, allowed
from relayml.domain.serving import Variant
from relayml.identity.tokens import create_token
from relayml.identity.users import add_user
from tests.fixtures.mlflow_routes import MLFLOW_CALLERS, MLFLOW_ROUTES, mlflow_short

PROJECT = "perm"
# The routes anyone may call: health, readiness and signing in and out.
PUBLIC_ROUTES = {
    "/healthz",
    "/readyz",
    "/auth/sign-in",
    "/auth/sign-out",
    "/auth/oidc/login",
    "/auth/oidc/callback",
    "/sign-in",  # the web pages' sign-in form
    "/sign-out",
}
# FastAPI's own documentation pages: they describe the API and hold no data.
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
SIGNATURE = Signature(
    inputs=[ColumnSpec(name="x", dtype="float64")],
    outputs=[ColumnSpec(name="prediction", dtype="int64")],
    output_shape=[-1],
    task="classification",
    classes=[0, 1],
    has_proba=True,
)


@dataclass(frozen=True)
class Caller:
    """Who calls: a name, the roles held in PROJECT, whether an administrator, the token."""

    name: str
    roles: frozenset[str]
    admin: bool
    token: str | None


@dataclass
class World:
    """The app, its callers and the ids of what exists."""

    client: TestClient
    callers: list[Caller]
    ids: dict[str, str]


def _app(tmp: Path) -> tuple[FastAPI, LocalBackend]:
    backend = LocalBackend(get_settings(home=tmp, user="root", monitor_interval=0))
    return create_app(backend, auth=True), backend


def _seed(backend: LocalBackend) -> dict[str, str]:
    backend.create_project(PROJECT, business_question="who may do what?")
    run = backend.create_run(PROJECT, "exp")
    backend.log_metrics(run.id, [("loss", 0.5, 0, 1_700_000_000_000)])
    backend.log_artifact(run.id, "notes.txt", io.BytesIO(b"hello"))
    sha, size = backend.upload_blob(io.BytesIO(b"model bytes"))
    backend.create_model_version(
        PROJECT,
        "churn",
        flavor="sklearn",
        files=[ModelFile(path="model.joblib", sha256=sha, size=size)],
        signature=SIGNATURE,
        requirements=[],
        details={},
        run_id=run.id,
    )
    log_dataset(backend, PROJECT, "customers", pd.DataFrame({"x": [1.0, 2.0]}))
    backend.deploy(PROJECT, "churn", "staging", "single", [Variant(version=1, weight=100.0)])
    pipeline_run = backend.create_pipeline_run(PROJECT, "mod:pipe")
    experiment = str(backend.get_experiment(PROJECT, "exp").id)
    return {"run": run.id, "sha": sha, "pipeline_run": pipeline_run.id, "experiment": experiment}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app, backend = _app(tmp_path_factory.mktemp("perm"))
    store = backend.store
    add_user(store, "test", "root", admin=True)
    ids = _seed(backend)
    callers = [Caller("root", frozenset(), True, create_token(store, "test", "root", "t")[1])]
    for role in ALL_ROLES:
        name = f"u-{role.replace('_', '-')}"
        add_user(store, "test", name)
        backend.add_member(PROJECT, name, role)
        token = create_token(store, "test", name, "t")[1]
        callers.append(Caller(name, frozenset({role}), False, token))
    add_user(store, "test", "outsider")
    callers.append(
        Caller("outsider", frozenset(), False, create_token(store, "test", "outsider", "t")[1])
    )
    callers.append(Caller("nobody", frozenset(), False, None))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, callers, ids)


# -- (a) every route declares its action ---------------------------------------------------


def test_every_route_declares_its_action(world: World) -> None:
    routes = declared_routes(world.client.app)
    undeclared = [f"{r.method} {r.path}" for r in routes if r.action is None and r.path not in DOCS]
    assert not undeclared, f"routes without requires(...): {undeclared}"
    api = [r for r in routes if r.path.startswith("/api/v1/")]
    assert len(api) >= 75
    public = {r.path for r in routes if r.action == PUBLIC}
    assert public == PUBLIC_ROUTES, (
        "only health, readiness and sign-in are public; review a new public route and add it "
        f"to PUBLIC_ROUTES: {sorted(public ^ PUBLIC_ROUTES)}"
    )


def test_the_walk_finds_a_route_that_declares_nothing() -> None:
    router = APIRouter()

    @router.get("/open")
    def open_route() -> dict[str, str]:
        return {}

    @router.get("/closed", dependencies=[requires("project.read")])
    def closed_route() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")
    found = {r.path: r.action for r in declared_routes(app) if r.path.startswith("/api")}
    assert found == {"/api/v1/open": None, "/api/v1/closed": "project.read"}


# Reads asked with a POST body (they change nothing).
READ_BY_POST = {
    "/projects/{project}/runs/search",
    "/projects/{project}/promotions/check",
    "/projects/{project}/features/plan",
}
# Reads that need more (or less) than project.read.
OTHER_READS = {
    "/projects": SIGNED_IN,
    "/audit": "audit.read",
    "/audit/verify": "audit.read",
    "/audit/checkpoints": "audit.read",
    "/audit/export": "audit.read",
    "/me": SIGNED_IN,
    "/tokens": SIGNED_IN,
    "/users": ADMIN_ONLY,
    "/users/{name}": ADMIN_ONLY,
    "/users/{name}/tokens": ADMIN_ONLY,
}
# What each route that changes something needs: a second, reviewed copy of the declarations, so
# that a write route declared as a read (or as a lesser action) fails here.
WRITES = {
    ("POST", "/projects"): SIGNED_IN,
    ("PATCH", "/projects/{name}"): "project.update",
    ("POST", "/projects/{project}/experiments"): "tracking.write",
    ("DELETE", "/projects/{project}/experiments/{name}"): "tracking.write",
    ("POST", "/projects/{project}/experiments/{name}/restore"): "tracking.write",
    ("POST", "/projects/{project}/runs"): "tracking.write",
    ("DELETE", "/runs/{run_id}"): "tracking.write",
    ("POST", "/runs/{run_id}/restore"): "tracking.write",
    ("POST", "/runs/{run_id}/end"): "tracking.write",
    ("POST", "/runs/{run_id}/params"): "tracking.write",
    ("POST", "/runs/{run_id}/tags"): "tracking.write",
    ("POST", "/runs/{run_id}/metrics"): "tracking.write",
    ("PUT", "/runs/{run_id}/artifacts/{path:path}"): "tracking.write",
    ("PUT", "/blobs"): "tracking.write",
    ("POST", "/projects/{project}/members"): "project.members",
    ("POST", "/projects/{project}/models/{name}/versions"): "model.write",
    ("POST", "/projects/{project}/evaluations"): "model.write",
    ("PUT", "/projects/{project}/policy"): "policy.write",
    ("POST", "/projects/{project}/promotions"): "promotion.request",
    ("POST", "/projects/{project}/promotions/decide"): "promotion.decide",
    ("POST", "/projects/{project}/datasets/{name}/versions"): "data.write",
    ("POST", "/projects/{project}/data-checks"): "data.write",
    ("POST", "/lineage"): "data.write",
    ("POST", "/projects/{project}/features/apply"): "features.write",
    ("POST", "/projects/{project}/feature-sets/{name}/checks"): "features.write",
    ("POST", "/projects/{project}/feature-sets/{name}/promote"): "features.write",
    ("POST", "/projects/{project}/feature-sets/{name}/materialize"): "features.write",
    ("POST", "/lineage/links"): "data.write",
    ("POST", "/projects/{project}/feedback"): "feedback.flag",
    ("POST", "/projects/{project}/feedback/{flag_id}/resolve"): "feedback.resolve",
    ("PUT", "/projects/{project}/alerts/rules"): "alerts.write",
    ("POST", "/projects/{project}/alerts/{event_id}/acknowledge"): "alerts.write",
    ("POST", "/projects/{project}/monitors/run"): "alerts.write",
    ("PUT", "/projects/{project}/models/{model}/decisions"): "decisions.write",
    ("POST", "/projects/{project}/logs/compact"): "alerts.write",
    ("POST", "/projects/{project}/pipeline-runs"): "pipeline.run",
    ("POST", "/pipeline-runs/{run_id}/steps"): "pipeline.run",
    ("POST", "/pipeline-runs/{run_id}/finish"): "pipeline.run",
    # who may run a project's pipelines may schedule them; a tick of every project is an admin's
    ("POST", "/projects/{project}/schedules"): "pipeline.run",
    ("POST", "/projects/{project}/schedules/{name}/pause"): "pipeline.run",
    ("POST", "/projects/{project}/schedules/{name}/resume"): "pipeline.run",
    ("DELETE", "/projects/{project}/schedules/{name}"): "pipeline.run",
    ("POST", "/projects/{project}/schedules/tick"): "pipeline.run",
    ("POST", "/schedules/tick"): ADMIN_ONLY,
    ("POST", "/projects/{project}/schedule-firings/{firing_id}"): "pipeline.run",
    ("PUT", "/projects/{project}/models/{model}/deployments/{environment}"): "deploy.write",
    ("POST", "/projects/{project}/outcomes"): "outcomes.write",
    ("PUT", "/projects/{project}/models/{model}/risk-tier"): "risk.write",
    ("POST", "/projects/{project}/models/{model}/retire"): "model.retire",
    ("POST", "/projects/{project}/models/{model}/reports"): "report.create",
    ("PUT", "/projects/{project}/model-card"): "model.write",
    # a checkpoint only attests what is there: auditors make them
    ("POST", "/audit/checkpoints"): "audit.read",
    ("POST", "/tokens"): SIGNED_IN,
    ("DELETE", "/tokens/{token_id}"): SIGNED_IN,
    ("POST", "/users"): ADMIN_ONLY,
    ("POST", "/users/{name}/disable"): ADMIN_ONLY,
    ("POST", "/users/{name}/enable"): ADMIN_ONLY,
    ("PUT", "/users/{name}/admin"): ADMIN_ONLY,
    ("PUT", "/users/{name}/password"): ADMIN_ONLY,
    ("POST", "/users/{name}/tokens"): ADMIN_ONLY,
}


# The web pages (relayml.web): every page and form, with the action it needs (a reviewed copy).
WEB_PAGES = {
    ("GET", "/"): SIGNED_IN,
    ("GET", "/projects"): SIGNED_IN,
    ("GET", "/projects/{project}"): "project.read",
    ("GET", "/projects/{project}/runs"): "project.read",
    ("GET", "/projects/{project}/runs/compare"): "project.read",
    ("GET", "/projects/{project}/runs/{run_id}"): "project.read",
    ("GET", "/projects/{project}/datasets"): "project.read",
    ("GET", "/projects/{project}/datasets/{name}"): "project.read",
    ("GET", "/projects/{project}/pipelines"): "project.read",
    ("GET", "/projects/{project}/pipelines/{run_id}"): "project.read",
    ("GET", "/projects/{project}/lineage"): "project.read",
    ("GET", "/projects/{project}/features"): "project.read",
    ("GET", "/projects/{project}/features/{kind}/{name}"): "project.read",
    ("GET", "/projects/{project}/models"): "project.read",
    ("GET", "/projects/{project}/models/{name}"): "project.read",
    ("GET", "/projects/{project}/models/{name}/{version}"): "project.read",
    ("POST", "/projects/{project}/models/{name}/{version}/decide"): "promotion.decide",
    ("POST", "/projects/{project}/models/{name}/{version}/promote"): "promotion.request",
    ("GET", "/projects/{project}/deployments"): "project.read",
    ("GET", "/projects/{project}/deployments/{model}/{environment}"): "project.read",
    (
        "POST",
        "/projects/{project}/deployments/{model}/{environment}/promote-winner",
    ): "deploy.write",
    ("GET", "/projects/{project}/monitoring"): "project.read",
    ("POST", "/projects/{project}/alerts/{event_id}/acknowledge"): "alerts.write",
    ("GET", "/projects/{project}/predictions"): "project.read",
    ("GET", "/projects/{project}/predictions/{prediction_id}"): "project.read",
    ("POST", "/projects/{project}/predictions/{prediction_id}/flag"): "feedback.flag",
    ("GET", "/projects/{project}/feedback"): "project.read",
    ("POST", "/projects/{project}/feedback/{flag_id}/resolve"): "feedback.resolve",
    ("GET", "/reports"): "project.read",
    ("POST", "/reports/{project}/{model}/risk-tier"): "risk.write",
    ("POST", "/reports/{project}/{model}/build"): "report.create",
    ("POST", "/reports/{project}/{model}/retire"): "model.retire",
    ("GET", "/reports/{project}/{model}/{version}/{sha256}"): "project.read",
    ("GET", "/audit"): "audit.read",
    ("POST", "/audit/verify"): "audit.read",
    ("GET", "/projects/{project}/resources"): "project.read",
    ("GET", "/admin/users"): ADMIN_ONLY,
    ("POST", "/admin/users/{name}/disable"): ADMIN_ONLY,
    ("POST", "/admin/users/{name}/enable"): ADMIN_ONLY,
    ("POST", "/admin/users/{name}/password"): ADMIN_ONLY,
}
_NOT_PAGES = (
    "/api/",
    "/ajax-api/",  # MLflow's UI prefix: JSON routes, reviewed in MLFLOW_ROUTES
    "/auth/",
    "/healthz",
    "/readyz",
    "/sign-in",
    "/sign-out",
    "/static",
)


def test_every_page_declares_the_action_the_reviewed_table_says(world: World) -> None:
    found = {
        (r.method, r.path): r.action
        for r in declared_routes(world.client.app)
        if not r.path.startswith(_NOT_PAGES) and r.path not in DOCS
    }
    assert found == WEB_PAGES, (
        "review each new page's action and add it to WEB_PAGES: "
        f"{sorted(set(found.items()) ^ set(WEB_PAGES.items()))}"
    )


def test_reads_need_project_read_and_each_write_its_own_action(world: World) -> None:
    wrong = []
    for route in declared_routes(world.client.app):
        short = route.path.removeprefix("/api/v1")
        if not route.path.startswith("/api/v1/"):
            continue
        if route.method == "GET" or short in READ_BY_POST:
            want = OTHER_READS.get(short, "project.read")
        else:
            want = WRITES.get((route.method, short), "missing from WRITES")
        if route.action != want:
            wrong.append(f"{route.method} {short}: declares {route.action}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_every_mlflow_route_declares_the_reviewed_action(world: World) -> None:
    wrong = []
    seen = set()
    for route in declared_routes(world.client.app):
        short = mlflow_short(route.path)
        if short is None:
            continue
        seen.add((route.method, short))
        want = MLFLOW_ROUTES.get((route.method, short), "missing from MLFLOW_ROUTES")
        if route.action != want:
            wrong.append(f"{route.method} {route.path}: declares {route.action}, expected {want}")
    assert not wrong, "\n".join(wrong)
    assert seen == set(MLFLOW_ROUTES), sorted(set(MLFLOW_ROUTES) ^ seen)


# -- (b) every role x every route ----------------------------------------------------------


def _path_value(template: str, param: str, ids: dict[str, str]) -> str:
    if param == "name":
        if template.startswith("/api/v1/projects/{name}"):
            return PROJECT
        for marker, value in (
            ("experiments", "exp"),
            ("models", "churn"),
            ("datasets", "customers"),
            ("features/{kind}", "customer"),
            ("feature-sets", "customer"),
        ):
            if f"/{marker}/{{name}}" in template:
                return value
    if param == "run_id":
        return ids["pipeline_run"] if "/pipeline-runs/" in template else ids["run"]
    values = {
        "project": PROJECT,
        "model": "churn",
        "environment": "staging",
        "key": "loss" if "/metrics/" in template else ids["run"],
        "path": "notes.txt",
        "sha256": ids["sha"],
        "prediction_id": "p-1",
        "flag_id": "1",
        "event_id": "1",
        "cache_key": "0" * 64,
        "kind": "feature_set" if "/features/" in template else "run",
        "token_id": "999999",  # no token: the walk must not revoke a caller's own token
    }
    return values.get(param, "1")  # a parameter of a route added later: any value


BODIES: dict[tuple[str, str], dict[str, Any]] = {
    # A name no project may have: signed-in callers pass the check, then get 422, so the walk
    # makes nobody the owner of a new project (that would change what they may do).
    ("POST", "/projects"): {"json": {"name": "bad name!"}},
    ("PATCH", "/projects/{name}"): {"json": {"description": "changed"}},
    ("POST", "/projects/{project}/experiments"): {"json": {"name": "exp2"}},
    ("POST", "/projects/{project}/runs"): {"json": {"experiment": "exp"}},
    ("POST", "/projects/{project}/runs/search"): {"json": {}},
    ("POST", "/runs/{run_id}/params"): {"json": {"values": {"a": "1"}}},
    ("POST", "/runs/{run_id}/tags"): {"json": {"values": {"t": "1"}}},
    ("POST", "/runs/{run_id}/metrics"): {"json": {"points": [["loss", 0.4, 1, 1_700_000_000_001]]}},
    ("POST", "/runs/{run_id}/end"): {"json": {"status": "FINISHED"}},
    ("PUT", "/runs/{run_id}/artifacts/{path:path}"): {"content": b"more"},
    ("PUT", "/blobs"): {"content": b"blob"},
    ("POST", "/projects/{project}/members"): {"json": {"user": "u-viewer", "role": "viewer"}},
    ("PUT", "/projects/{project}/policy"): {"json": {"source": "environments: {}"}},
    ("POST", "/projects/{project}/promotions"): {
        "json": {"ref": "churn/1", "environment": "staging"}
    },
    ("POST", "/projects/{project}/promotions/decide"): {
        "json": {"ref": "churn/1", "environment": "staging", "decision": "approve"}
    },
    ("POST", "/projects/{project}/promotions/check"): {
        "json": {"ref": "churn/1", "environment": "staging"}
    },
    ("PUT", "/projects/{project}/models/{model}/deployments/{environment}"): {
        "json": {"strategy": "single", "variants": [{"version": 1, "weight": 100}]}
    },
    ("POST", "/projects/{project}/outcomes"): {"json": {"prediction_ids": ["p-1"], "values": [1]}},
    ("POST", "/projects/{project}/feedback"): {"json": {"prediction_id": "p-1", "kind": "wrong"}},
    ("POST", "/projects/{project}/feedback/{flag_id}/resolve"): {"json": {"resolution": "ok"}},
    ("PUT", "/projects/{project}/alerts/rules"): {"json": {"source": "rules: []"}},
    ("PUT", "/projects/{project}/models/{model}/decisions"): {"json": {"source": "rules: []"}},
    ("POST", "/projects/{project}/pipeline-runs"): {"json": {"pipeline": "mod:pipe"}},
    ("POST", "/pipeline-runs/{run_id}/steps"): {"json": {"record": {}}},
    ("POST", "/pipeline-runs/{run_id}/finish"): {"json": {"status": "FINISHED"}},
    ("POST", "/lineage/links"): {"json": {"nodes": [], "edges": []}},
    ("POST", "/lineage"): {"json": {}},
    ("PUT", "/projects/{project}/model-card"): {
        "json": {"ref": "churn/1", "limitations": "not for pricing"}
    },
    ("POST", "/projects/{project}/features/plan"): {"json": {"definitions": []}},
    ("POST", "/projects/{project}/features/apply"): {"json": {"definitions": []}},
    ("POST", "/projects/{project}/feature-sets/{name}/materialize"): {
        "json": {"environment": "staging"}
    },
    ("POST", "/projects/{project}/feature-sets/{name}/checks"): {
        "json": {"version": 1, "outcomes": [], "rows": 0}
    },
    ("POST", "/projects/{project}/feature-sets/{name}/promote"): {
        "json": {"environment": "staging"}
    },
}
QUERIES = {
    "/projects/{project}/dataset-version": {"ref": "customers"},
    "/projects/{project}/data-checks": {"ref": "customers"},
    "/projects/{project}/model-version": {"ref": "churn/1"},
    "/projects/{project}/evaluations": {"ref": "churn/1"},
    "/projects/{project}/importance": {"ref": "churn/1"},
    "/projects/{project}/model-card": {"ref": "churn/1"},
}


def _request(route: DeclaredRoute, ids: dict[str, str]) -> tuple[str, dict[str, Any]]:
    url = re.sub(
        r"\{(\w+)(?::path)?\}", lambda m: _path_value(route.path, m.group(1), ids), route.path
    )
    if mlflow_short(route.path) is not None:
        # MLflow routes name their project in the body or query: the seeded run's experiment
        fields = {"experiment_id": ids["experiment"], "run_id": ids["run"]}
        return url, {"params": fields} if route.method == "GET" else {"json": fields}
    short = route.path.removeprefix("/api/v1")
    kwargs = dict(BODIES.get((route.method, short), {}))
    if route.method in ("POST", "PUT", "PATCH") and not kwargs:
        kwargs = {"json": {}}
    if route.method == "GET" and short in QUERIES:
        kwargs["params"] = QUERIES[short]
    return url, kwargs


def _expected(caller: Caller, route: DeclaredRoute) -> str:
    assert route.action is not None
    if route.action == PUBLIC:
        return "public"  # anyone: never 403 (a sign-in route may answer 401 to bad credentials)
    if caller.token is None:
        return "401"
    # The callers hold roles in PROJECT alone, so a route about no single project (asking for
    # the action "in any project") expects the same roles as a route of PROJECT. The walk's
    # bodies ask for each route's own action (a PATCH of the description, not of KPIs alone:
    # the lesser action a route accepts with `also` is tested below).
    if allowed(caller.roles, route.action, admin=caller.admin):
        return "allowed"
    return "403"


def test_every_role_on_every_route(world: World) -> None:
    routes = [r for r in declared_routes(world.client.app) if r.path not in DOCS]
    problems: list[str] = []
    calls = expected_calls = 0
    for route in routes:
        url, kwargs = _request(route, world.ids)
        callers = world.callers
        if mlflow_short(route.path) is not None:
            # ~80 MLflow routes: a subset of callers that tells each declared action apart
            # (their declarations are checked against MLFLOW_ROUTES above)
            callers = [c for c in world.callers if c.name in MLFLOW_CALLERS]
        expected_calls += len(callers)
        for caller in callers:
            headers = {"Authorization": f"Bearer {caller.token}"} if caller.token else {}
            # A name the client claims is never trusted: the token says who calls.
            headers["X-Relay-User"] = "root"
            response = world.client.request(route.method, url, headers=headers, **kwargs)
            calls += 1
            want = _expected(caller, route)
            got = response.status_code
            if want == "public":
                ok = got != 403 and got < 500
            elif want == "allowed":
                ok = got not in (401, 403) and got < 500
            else:
                ok = got == int(want)
            if not ok:
                body = response.text[:160]
                problems.append(
                    f"{caller.name} {route.method} {url}: want {want}, got {got} {body}"
                )
    print(f"{len(routes)} routes x {len(world.callers)} callers = {calls} calls")
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} problems)"
    assert calls == expected_calls


# -- the checks inside routes and the project list -------------------------------------------


def _as(world: World, name: str) -> dict[str, str]:
    token = next(c.token for c in world.callers if c.name == name)
    return {"Authorization": f"Bearer {token}"}


def test_kpis_alone_need_project_kpis_anything_else_project_update(world: World) -> None:
    client = world.client
    kpis = {"kpis": [{"name": "kept", "unit": "customers", "direction": "increase"}]}
    url = f"/api/v1/projects/{PROJECT}"
    assert (
        client.patch(url, json=kpis, headers=_as(world, "u-subject-matter-expert")).status_code
        == 200
    )
    both = {**kpis, "description": "and more"}
    denied = client.patch(url, json=both, headers=_as(world, "u-subject-matter-expert"))
    assert denied.status_code == 403 and "change the project's description" in denied.text
    assert client.patch(url, json=kpis, headers=_as(world, "u-data-scientist")).status_code == 403
    assert client.patch(url, json=both, headers=_as(world, "u-owner")).status_code == 200


def test_deciding_for_production_needs_promotion_production(world: World) -> None:
    client, url = world.client, f"/api/v1/projects/{PROJECT}"
    policy = "environments: {production: {approvals: [{role: risk_manager}]}}"
    assert client.put(
        f"{url}/policy", json={"source": policy}, headers=_as(world, "root")
    ).is_success
    asked = {"ref": "churn/1", "environment": "production"}
    waiting = client.post(f"{url}/promotions", json=asked, headers=_as(world, "root"))
    assert waiting.json()["status"] == "PENDING_APPROVAL", waiting.text
    body = {**asked, "decision": "approve"}
    owner = client.post(f"{url}/promotions/decide", json=body, headers=_as(world, "u-owner"))
    assert owner.status_code == 403 and "production" in owner.json()["error"]["message"]
    refused = client.get(
        "/api/v1/audit", params={"kind": "promotion.refused"}, headers=_as(world, "root")
    )
    assert [e["actor"] for e in refused.json()] == ["u-owner"], "a refusal is audited"
    risk = client.post(f"{url}/promotions/decide", json=body, headers=_as(world, "u-risk-manager"))
    assert risk.status_code not in (401, 403), risk.text


def test_projects_are_listed_to_their_members_and_unknown_ones_are_404(world: World) -> None:
    client = world.client

    def names(who: str) -> list[str]:
        listed = client.get("/api/v1/projects", headers=_as(world, who)).json()
        return [p["name"] for p in listed]

    assert names("u-viewer") == [PROJECT]
    assert names("outsider") == []
    assert PROJECT in names("root")
    assert (
        client.get(f"/api/v1/projects/{PROJECT}", headers=_as(world, "outsider")).status_code == 403
    )
    unknown = client.get("/api/v1/projects/no-such", headers=_as(world, "outsider"))
    assert unknown.status_code == 404


def test_the_creator_of_a_project_owns_it(world: World) -> None:
    client = world.client
    made = client.post("/api/v1/projects", json={"name": "mine"}, headers=_as(world, "u-auditor"))
    assert made.status_code == 201
    members = client.get("/api/v1/projects/mine/members", headers=_as(world, "u-auditor")).json()
    assert members == {"u-auditor": ["owner"]}
    assert "mine" not in [
        p["name"] for p in client.get("/api/v1/projects", headers=_as(world, "u-viewer")).json()
    ]


def test_a_session_hook_signs_in_a_browser_without_a_bearer_token(tmp_path: Path) -> None:
    """The sign-in routes set app.state.session_identity; identity_of asks it when no token came."""
    app, backend = _app(tmp_path)
    add_user(backend.store, "test", "root", admin=True)

    def session_identity(request: Any) -> Identity | None:
        if request.cookies.get("relay_session") == "signed":
            return Identity(name="root", is_admin=True, via="session")
        return None

    app.state.session_identity = session_identity
    with TestClient(app) as client:
        assert client.get("/api/v1/projects").status_code == 401
        client.cookies.set("relay_session", "signed")
        assert client.get("/api/v1/projects").status_code == 200
        made = client.post("/api/v1/projects", json={"name": "web"})
        assert made.status_code == 201 and made.json()["owner"] == "root"
        # a bearer token, when sent, decides alone
        bad = {"Authorization": "Bearer relay_" + "z" * 43}
        assert client.get("/api/v1/projects", headers=bad).status_code == 401
