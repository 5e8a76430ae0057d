"""The lineage operations of LocalBackend (in-process, on the store)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode
from relayml.lineage import graph, openlineage
from relayml.store import Store

__all__ = ["LocalLineageOps"]


class LocalLineageOps:
    """Link nodes, walk the lineage graph, take in OpenLineage events, run in this process."""

    store: Store
    actor: str

    def link(self, nodes: Sequence[LineageNode], edges: Sequence[LineageEdge] = ()) -> None:
        """Record lineage nodes (facets merged) and edges (idempotent), with an audit entry."""
        graph.link(self.store, self.actor, list(nodes), list(edges))

    def lineage(
        self, kind: str, key: str, *, depth: int = 3, direction: str = "both"
    ) -> LineageGraph:
        """The graph around a node: upstream, downstream or both, to depth."""
        return graph.lineage(self.store, kind, key, depth=depth, direction=direction)

    def ingest_openlineage(self, event: Mapping[str, Any]) -> None:
        """Record an OpenLineage RunEvent (or DatasetEvent, JobEvent) in the lineage graph."""
        openlineage.ingest(self.store, self.actor, event)
