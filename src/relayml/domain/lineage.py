"""Entities of the lineage graph: nodes (relay entities or external datasets/jobs) and edges."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LineageEdge", "LineageGraph", "LineageNode"]

_CONFIG = ConfigDict(ser_json_inf_nan="strings", frozen=True)


class LineageNode(BaseModel):
    """Something lineage links: a relay entity or an external dataset/job (OpenLineage)."""

    model_config = _CONFIG
    kind: str
    key: str
    label: str = ""
    facets: dict[str, Any] = Field(default_factory=dict)


class LineageEdge(BaseModel):
    """src --relation--> dst, e.g. dataset_version --input_of--> run."""

    model_config = _CONFIG
    src_kind: str
    src_key: str
    dst_kind: str
    dst_key: str
    relation: str


class LineageGraph(BaseModel):
    """The part of the lineage graph around one node, upstream and downstream."""

    model_config = _CONFIG
    root: LineageNode
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    depth: int
    truncated: bool = False
