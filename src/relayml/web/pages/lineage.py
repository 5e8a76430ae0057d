"""The lineage page: the graph around any node, each node linking to its own page.

Depth is bounded (1 to 4) and so are the nodes drawn (the nearest MAX_DRAWN); the page says how
many were left out, so a huge graph stays readable.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.domain.lineage import LineageNode
from relayml.errors import InvalidInput, NotFound
from relayml.web.pages.common import page_router
from relayml.web.render import backend_of, page

__all__ = ["node_href", "router"]

router = page_router()

MAX_DRAWN = 120
DEPTHS = (1, 2, 3, 4)
DIRECTIONS = ("both", "upstream", "downstream")
KIND_LABELS = {
    "dataset_version": "dataset",
    "model_version": "model",
    "pipeline_run": "pipeline run",
    "step_run": "step",
    "step_output": "output",
}


def node_href(project: str, kind: str, key: str) -> str:
    """The page of a lineage node: its own page when it has one, else the graph around it."""
    if kind == "run":
        return f"/projects/{project}/runs/{quote(key)}"
    if kind == "pipeline_run":
        return f"/projects/{project}/pipelines/{quote(key)}"
    if kind == "dataset_version" and "/" in key and "@" in key:
        owner, _, ref = key.partition("/")
        name, _, version = ref.rpartition("@")
        return f"/projects/{quote(owner)}/datasets/{quote(name)}?version={quote(version)}"
    if kind == "feature_set_version" and "/" in key and "@" in key:
        owner, _, ref = key.partition("/")
        name, _, version = ref.rpartition("@")
        return (
            f"/projects/{quote(owner)}/features/feature_set/{quote(name)}?version={quote(version)}"
        )
    if kind == "model_version" and key.count("/") == 2:
        owner, name, version = key.split("/")
        return f"/projects/{quote(owner)}/models/{quote(name)}/{quote(version)}"
    return f"/projects/{project}/lineage?" + urlencode({"kind": kind, "id": key})


def _check_root(backend: Any, project: str, kind: str, key: str) -> None:
    """A project's page shows the graph around that project's own entities (or shared ones)."""
    if kind == "run":
        owner = backend.get_run(key).project
    elif kind == "pipeline_run":
        owner = backend.get_pipeline_run(key).project
    elif kind in ("dataset_version", "model_version", "feature_set_version"):
        owner = key.partition("/")[0]
    else:
        return  # sources, step outputs, OpenLineage datasets and jobs belong to no project
    if owner != project:
        raise NotFound(f"project {project} has no {kind} {key!r}.")


def _label(node: LineageNode) -> str:
    text = node.label or node.key
    if len(text) > 28 and node.kind in ("run", "pipeline_run", "step_output"):
        text = text[:12]  # an id: its start tells it apart
    elif len(text) > 28:
        text = "…" + text[-26:]  # a path or a URI: its end tells it apart
    return f"{KIND_LABELS.get(node.kind, node.kind.replace('_', ' '))}: {text}"


def _starts(backend: Any, project: str) -> list[tuple[str, str, str]]:
    """A few nodes to start from: the latest dataset versions, models and pipeline runs."""
    out = []
    for dataset in backend.list_datasets(project)[:8]:
        if dataset.latest_version is not None:
            ref = f"{dataset.name}@{dataset.latest_version}"
            out.append((f"dataset {ref}", "dataset_version", f"{project}/{ref}"))
    for model in backend.list_models(project)[:8]:
        if model.latest_version is not None:
            ref = f"{model.name}/{model.latest_version}"
            out.append((f"model {ref}", "model_version", f"{project}/{ref}"))
    for run in backend.list_pipeline_runs(project, limit=4):
        out.append((f"pipeline run {run.pipeline} {run.id[:8]}", "pipeline_run", run.id))
    return out


@router.get("/projects/{project}/lineage")
def lineage_page(
    request: Request,
    project: str,
    kind: str = "",
    id: str = "",
    depth: int = 2,
    direction: str = "both",
    identity: Identity = requires("project.read"),
) -> Response:
    """The lineage graph around one node, bounded in depth and in nodes drawn."""
    backend = backend_of(request)
    if depth not in DEPTHS:
        raise InvalidInput(f"depth must be one of {', '.join(map(str, DEPTHS))}, not {depth}.")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}.")
    context: dict[str, Any] = {
        "kind": kind, "key": id, "depth": depth, "direction": direction,
        "depths": DEPTHS, "directions": DIRECTIONS, "graph": None, "starts": [],
    }  # fmt: skip
    if not (kind and id):
        context["starts"] = [
            (label, f"/projects/{project}/lineage?" + urlencode({"kind": k, "id": key}))
            for label, k, key in _starts(backend, project)
        ]
        return page(request, "lineage.html", project=project, **context)
    _check_root(backend, project, kind, id)
    found = backend.lineage(kind, id, depth=depth, direction=direction)
    root = (found.root.kind, found.root.key)
    others = [n for n in found.nodes if (n.kind, n.key) != root]
    drawn = [found.root, *others[: MAX_DRAWN - 1]]  # the nearest first
    ids = {(n.kind, n.key) for n in drawn}
    nodes = [
        {"id": f"{n.kind}:{n.key}", "label": _label(n), "kind": n.kind,
         "href": node_href(project, n.kind, n.key),
         "current": (n.kind, n.key) == (found.root.kind, found.root.key)}
        for n in drawn
    ]  # fmt: skip
    edges = [
        {"from": f"{e.src_kind}:{e.src_key}", "to": f"{e.dst_kind}:{e.dst_key}"}
        for e in found.edges
        if (e.src_kind, e.src_key) in ids and (e.dst_kind, e.dst_key) in ids
    ]
    context["graph"] = {"nodes": nodes, "edges": edges, "direction": "LR"}
    context["left_out"] = len(others) + 1 - len(drawn)
    context["truncated"] = found.truncated
    context["listed"] = drawn
    context["hrefs"] = {(n.kind, n.key): node_href(project, n.kind, n.key) for n in drawn}
    return page(request, "lineage.html", project=project, **context)
