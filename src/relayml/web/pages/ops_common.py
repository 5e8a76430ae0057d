"""What the models, deployments, monitoring and predictions pages share: the lineage graph's data,
server-drawn SVG (a timeline of spans, horizontal bars) and small figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from relayml.domain.lineage import LineageGraph
from relayml.predictions.latest import deployments_in_log
from relayml.predictions.layout import deployment_key

__all__ = ["bars_svg", "lineage_data", "node_href", "padded", "served", "timeline_svg"]

PALETTE = ["#2563eb", "#059669", "#d97706", "#7c3aed", "#dc2626", "#0891b2", "#be185d"]


def node_href(project: str, kind: str, key: str) -> str | None:
    """The page of a lineage node, if there is one."""
    if kind == "model_version" and key.count("/") == 2:
        _, model, version = key.split("/")
        return f"/projects/{quote(project)}/models/{quote(model)}/{quote(version)}"
    if kind == "run":
        return f"/projects/{quote(project)}/runs/{quote(key)}"
    return None


def lineage_data(graph: LineageGraph, project: str, current: tuple[str, str]) -> dict[str, Any]:
    """The graph macro's data: nodes (their pages as "link", the current one marked), edges."""
    ids = {(n.kind, n.key): f"n{i}" for i, n in enumerate(graph.nodes)}
    nodes = []
    for n in graph.nodes:
        node: dict[str, Any] = {
            "id": ids[(n.kind, n.key)],
            "label": f"{n.kind.replace('_', ' ')}: {n.label or n.key}",
            "kind": n.kind,
        }
        href = node_href(project, n.kind, n.key)
        if href:  # listed under the graph: links inside its role="img" box are not reachable
            node["link"] = href
        if (n.kind, n.key) == current:
            node["current"] = True
        nodes.append(node)
    edges = [
        {"from": ids[(e.src_kind, e.src_key)], "to": ids[(e.dst_kind, e.dst_key)]}
        for e in graph.edges
        if (e.src_kind, e.src_key) in ids and (e.dst_kind, e.dst_key) in ids
    ]
    return {"nodes": nodes, "edges": edges, "direction": "LR"}


def timeline_svg(spans: list[tuple[str, str, datetime, datetime]], width: int = 900) -> Markup:
    """Rows of spans (row, label, start, end) as an SVG: which version held which environment."""
    if not spans:
        return Markup("")
    rows = sorted({s[0] for s in spans})
    start = min(s[2] for s in spans)
    end = max(s[3] for s in spans)
    total = max((end - start).total_seconds(), 1.0)
    left, row_h = 110, 28
    height = row_h * len(rows) + 30
    inner = width - left - 10
    parts = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="timeline-title"><title id="timeline-title">Which version '
        f"held which environment, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC</title>"
    ]
    for i, row in enumerate(rows):
        y = 10 + i * row_h
        parts.append(f'<text x="4" y="{y + 17}" class="axis">{escape(row)}</text>')
        for _, label, a, b in (s for s in spans if s[0] == row):
            x = left + inner * (a - start).total_seconds() / total
            w = max(inner * (b - a).total_seconds() / total, 3.0)
            color = PALETTE[sum(map(ord, label)) % len(PALETTE)]
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" rx="3" '
                f'fill="{color}" opacity="0.85"><title>{escape(row)}: {escape(label)} from '
                f"{a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC</title></rect>"
            )
            if w > 30:
                parts.append(
                    f'<text x="{x + 4:.1f}" y="{y + 16}" class="on-bar">{escape(label)}</text>'
                )
    parts.append(
        f'<text x="{left}" y="{height - 4}" class="axis">{start:%Y-%m-%d %H:%M}</text>'
        f'<text x="{width - 10}" y="{height - 4}" class="axis" text-anchor="end">'
        f"{end:%Y-%m-%d %H:%M} UTC</text></svg>"
    )
    return Markup("".join(parts))


def bars_svg(items: list[tuple[str, float]], title: str, width: int = 640) -> Markup:
    """Signed horizontal bars (label, value) around a zero line, e.g. each input's contribution."""
    if not items:
        return Markup("")
    left, bar_h = 220, 22
    height = bar_h * len(items) + 24
    biggest = max(abs(v) for _, v in items) or 1.0
    half = (width - left - 70) / 2
    zero = left + half
    parts = [
        f'<svg class="bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="bars-title"><title id="bars-title">{escape(title)}</title>'
        f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height - 20}" stroke="#6b7280"/>'
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * bar_h
        w = half * abs(value) / biggest
        x = zero if value >= 0 else zero - w
        fill = "#b91c1c" if value >= 0 else "#1d4ed8"
        shown = f"{value:+.3g}"
        parts.append(
            f'<text x="4" y="{y + 14}" class="axis">{escape(label[:32])}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h - 6}" '
            f'fill="{fill}"><title>{escape(label)}: {shown}</title></rect>'
            f'<text x="{(x + w + 4) if value >= 0 else (x - 4):.1f}" y="{y + 14}" class="axis" '
            f'text-anchor="{"start" if value >= 0 else "end"}">{shown}</text>'
        )
    parts.append(
        f'<text x="{zero:.1f}" y="{height - 4}" class="axis" text-anchor="middle">0: '
        "pushes towards (red) or away from (blue) the answer</text></svg>"
    )
    return Markup("".join(parts))


def served(backend: Any, project: str) -> list[dict[str, Any]]:
    """Each deployment of the store, and each one only the log knows (served by alias)."""
    out: list[dict[str, Any]] = []
    seen = set()
    models = {m.name: m for m in backend.list_models(project)}
    for d in backend.list_deployments(project):
        seen.add(deployment_key(d.model, d.environment))
        alias = models[d.model].aliases.get(d.environment) if d.model in models else None
        out.append(
            {"model": d.model, "environment": d.environment, "deployment": d, "alias": alias}
        )
    for key in deployments_in_log(backend.logs, project):
        if key in seen:
            continue
        for name, m in models.items():
            if key.startswith(name + "-") and key[len(name) + 1 :] in m.aliases:
                env = key[len(name) + 1 :]
                out.append(
                    {"model": name, "environment": env, "deployment": None, "alias": m.aliases[env]}
                )
    return out


def padded(chart: dict[str, Any], step: int) -> dict[str, Any]:
    """A chart of one point gets an empty point either side, so its time axis spans hours, not
    years (``step`` seconds: the window's length)."""
    if len(chart["x"]) != 1:
        return chart
    x = chart["x"][0]
    series = [{**s, "values": [None, s["values"][0], None]} for s in chart["series"]]
    return {**chart, "x": [x - step, x, x + step], "series": series}
