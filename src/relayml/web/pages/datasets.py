"""The datasets pages: a project's datasets, and one dataset's versions, profile and checks."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.errors import NotFound, RelayError
from relayml.web.pages.common import page_router
from relayml.web.render import backend_of, page

__all__ = ["histogram_svg", "router"]

router = page_router()

MAX_DATASETS = 100
MAX_VERSIONS = 50
MAX_CHECKS = 20
MAX_PROFILED = 200  # columns of a profile shown


def _size(backend: Any, sha256: str) -> int | None:
    try:
        return backend.blobs.size(sha256)  # type: ignore[no-any-return]
    except (RelayError, ValueError):
        return None


@router.get("/projects/{project}/datasets")
def datasets_page(
    request: Request, project: str, identity: Identity = requires("project.read")
) -> Response:
    """A project's datasets, each with its latest version's rows, columns and author."""
    backend = backend_of(request)
    found = backend.list_datasets(project)
    rows = []
    for dataset in found[:MAX_DATASETS]:
        latest = None
        if dataset.latest_version is not None:
            latest = backend.get_dataset_version(
                project, f"{dataset.name}@{dataset.latest_version}"
            )
        rows.append({"dataset": dataset, "latest": latest})
    return page(
        request,
        "datasets/list.html",
        project=project,
        rows=rows,
        more=max(0, len(found) - MAX_DATASETS),
    )


def histogram_svg(histogram: dict[str, Any] | None) -> dict[str, Any] | None:
    """Bars (x, y, width, height, title) of a profile's histogram, for an inline SVG."""
    if not histogram or not histogram.get("counts"):
        return None
    counts = [int(c) for c in histogram["counts"]]
    edges = [float(e) for e in histogram["edges"]]
    top = max(counts) or 1
    width, height = 200.0, 48.0
    bar = width / len(counts)
    bars = []
    for i, count in enumerate(counts):
        h = count / top * height
        lo, hi = edges[min(i, len(edges) - 1)], edges[min(i + 1, len(edges) - 1)]
        bars.append(
            {"x": round(i * bar, 2), "y": round(height - h, 2), "w": round(max(bar - 1, 1), 2),
             "h": round(h, 2), "title": f"{lo:.4g} to {hi:.4g}: {count:,}"}
        )  # fmt: skip
    return {"bars": bars, "width": width, "height": height, "lo": edges[0], "hi": edges[-1]}


def _columns(profile: dict[str, Any]) -> list[dict[str, Any]]:
    columns = profile.get("columns") or {}
    out = []
    for name, stats in list(columns.items())[:MAX_PROFILED]:
        out.append({"name": name, "stats": stats, "hist": histogram_svg(stats.get("histogram"))})
    return out


@router.get("/projects/{project}/datasets/{name}")
def dataset_page(
    request: Request,
    project: str,
    name: str,
    version: int | None = None,
    identity: Identity = requires("project.read"),
) -> Response:
    """A dataset's versions, the profile of one (the latest unless asked) and its data checks."""
    backend = backend_of(request)
    versions = backend.list_dataset_versions(project, name)
    if not versions:
        raise NotFound(f"dataset {name!r} of project {project} has no version yet.")
    chosen = versions[0] if version is None else next(
        (v for v in versions if v.version == version), None
    )  # fmt: skip
    if chosen is None:
        known = ", ".join(str(v.version) for v in versions[:20])
        raise NotFound(f"dataset {name!r} has no version {version} (it has: {known}).")
    shown = versions[:MAX_VERSIONS]
    if chosen not in shown:
        shown.append(chosen)
    sizes = {v.sha256: _size(backend, v.sha256) for v in shown}
    checks = backend.list_data_checks(project, chosen.ref)
    return page(
        request,
        "datasets/detail.html",
        project=project,
        name=name,
        versions=shown,
        more_versions=max(0, len(versions) - len(shown)),
        chosen=chosen,
        sizes=sizes,
        columns=_columns(chosen.profile),
        more_columns=max(0, len(chosen.profile.get("columns") or {}) - MAX_PROFILED),
        checks=checks[:MAX_CHECKS],
        more_checks=max(0, len(checks) - MAX_CHECKS),
    )
