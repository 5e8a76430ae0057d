"""The features pages: a project's feature definitions, and one definition's versions, spec,
environments and checks (read-only; the registry is changed with `relay features apply`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.errors import NotFound
from relayml.web.pages.common import page_router
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()

MAX_VERSIONS = 50
MAX_CHECKS = 20
KINDS = ("entity", "feature_set", "on_demand")


@router.get("/projects/{project}/features")
def features_page(
    request: Request, project: str, identity: Identity = requires("project.read")
) -> Response:
    """A project's feature definitions (latest versions), by kind then name."""
    found = backend_of(request).list_feature_definitions(project)
    order = {kind: i for i, kind in enumerate(KINDS)}
    shown = sorted(found, key=lambda d: (order.get(d.kind, 9), d.name))
    return page(request, "features/list.html", project=project, definitions=shown)


def _facts(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The spec's plain fields as (name, text), its feature list and checks left to tables."""
    out = []
    for key, value in spec.items():
        if key in ("features", "checks", "kind", "name") or value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            text = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
        elif isinstance(value, list):
            text = ", ".join(str(v) for v in value)
        else:
            text = "" if value is None else str(value)
        out.append((key.replace("_", " "), text[:500]))
    return out


@router.get("/projects/{project}/features/{kind}/{name}")
def feature_page(
    request: Request,
    project: str,
    kind: str,
    name: str,
    version: int | None = None,
    identity: Identity = requires("project.read"),
) -> Response:
    """One definition: its versions, the spec of one, where it is deployed, its checks."""
    backend = backend_of(request)
    versions = backend.list_feature_definition_versions(project, kind, name)
    chosen = versions[0] if version is None else next(
        (v for v in versions if v.version == version), None
    )  # fmt: skip
    if chosen is None:
        raise NotFound(f"{kind} {name!r} has no version {version}.")
    checks = (
        backend.list_feature_checks(project, name, chosen.version) if kind == "feature_set" else []
    )
    return page(
        request,
        "features/detail.html",
        project=project,
        definition=chosen,
        versions=versions[:MAX_VERSIONS],
        facts=_facts(chosen.spec),
        features=[f for f in chosen.spec.get("features") or [] if isinstance(f, dict)],
        rules=chosen.spec.get("checks") or [],
        checks=checks[:MAX_CHECKS],
    )
