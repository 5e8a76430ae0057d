"""The lineage operations of HttpBackend: the same calls as LocalLineageOps, over HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode

__all__ = ["HttpLineageOps"]


def _q(part: str) -> str:
    return quote(part, safe="")


class HttpLineageOps:
    """Link nodes, walk the lineage graph, send OpenLineage events, on a relay server."""

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # provided by HttpBackend

    def _json(self, method: str, path: str, kind: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # provided by HttpBackend

    def link(self, nodes: Sequence[LineageNode], edges: Sequence[LineageEdge] = ()) -> None:
        """Record lineage nodes (facets merged) and edges (idempotent), with an audit entry."""
        body = {
            "nodes": [n.model_dump(mode="json") for n in nodes],
            "edges": [e.model_dump(mode="json") for e in edges],
        }
        self._send("POST", "/lineage/links", json=body)

    def lineage(
        self, kind: str, key: str, *, depth: int = 3, direction: str = "both"
    ) -> LineageGraph:
        """The graph around a node: upstream, downstream or both, to depth."""
        path = f"/lineage/{_q(kind)}/{_q(key)}"
        params = {"depth": depth, "direction": direction}
        result: LineageGraph = self._json("GET", path, LineageGraph, params=params)
        return result

    def ingest_openlineage(self, event: Mapping[str, Any]) -> None:
        """Send an OpenLineage RunEvent (or DatasetEvent, JobEvent) to the server's graph."""
        self._send("POST", "/lineage", json=dict(event))
