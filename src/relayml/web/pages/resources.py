"""The architect's page: what a project's runs, pipelines, storage and deployments use, and the
bottlenecks ranked (``backend.resource_overview``), with bars drawn on the server as SVG."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.domain.resources import BOTTLENECK_KINDS
from relayml.web.pages.common import page_router
from relayml.web.render import backend_of, number, page

__all__ = ["bars", "router"]

router = page_router()
BARS_SHOWN = 12
WINDOWS = (1, 7, 30, 90)


def bars(values: list[tuple[str, float, str]], title: str, *, bad: float | None = None) -> Markup:
    """Horizontal bars, one per (label, value, shown text), largest first; ``bad``: the value
    from which a bar is drawn in red. Presentation attributes only (the pages' CSP)."""
    shown = sorted(values, key=lambda v: -v[1])[:BARS_SHOWN]
    if not shown:
        return Markup("")
    top = max(v for _, v, _ in shown) or 1.0
    left, width, row = 290, 400, 22
    height = 8 + row * len(shown)
    full = left + width + 110
    parts = [
        f'<svg class="bars" role="img" aria-label="{escape(title)}" viewBox="0 0 {full} {height}"'
        f' width="{full}" height="{height}"><title>{escape(title)}</title>'
    ]
    for i, (label, value, text) in enumerate(shown):
        y = 4 + i * row
        w = max(value / top * width, 1.0)
        tone = " bad" if bad is not None and value >= bad else ""
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>')
        parts.append(f'<rect class="bar{tone}" x="{left}" y="{y}" width="{w:.1f}" height="16"/>')
        parts.append(f'<text x="{left + w + 5:.1f}" y="{y + 14}">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _megabytes(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{int(size)} B"


@router.get("/projects/{project}/resources")
def resources_page(
    request: Request,
    project: str,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
    identity: Identity = requires("project.read"),
) -> Response:
    """Compute by run, pipeline and step; storage; serving latency and errors; bottlenecks."""
    overview = backend_of(request).resource_overview(project, days=days)
    compute = [c for c in overview.compute if c.kind != "project"]
    compute_bars = bars(
        [(f"{c.kind}: {c.name}", c.wall_seconds, f"{number(c.wall_seconds)} s") for c in compute],
        "Wall time by model, pipeline and step (seconds)",
    )
    storage_bars = bars(
        [(f"{s.kind}: {s.name}", float(s.bytes), _megabytes(s.bytes)) for s in overview.storage],
        "Storage by kind (bytes)",
    )
    latency_bars = bars(
        [(s.deployment, s.p95_ms, f"p95 {number(s.p95_ms)} ms")
         for s in overview.serving if s.p95_ms is not None],
        "95th percentile latency per deployment (ms)",
    )  # fmt: skip
    ranked = {
        kind: [b for b in overview.bottlenecks if b.kind == kind] for kind in BOTTLENECK_KINDS
    }
    return page(
        request,
        "governance/resources.html",
        project=project,
        overview=overview,
        compute=compute,
        compute_bars=compute_bars,
        storage_bars=storage_bars,
        latency_bars=latency_bars,
        ranked={k: v for k, v in ranked.items() if v},
        days=days,
        windows=WINDOWS,
        size=_megabytes,
    )
