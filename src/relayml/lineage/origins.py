"""Where a dataset version came from, in the lineage graph: the file, object or table it was
read from (named as OpenLineage names it) and the pipeline run that produced it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.errors import InvalidInput
from relayml.lineage.graph import record
from relayml.lineage.identity import source_key
from relayml.store.schema import pipeline_runs

__all__ = ["check_source", "record_dataset_version"]


def _pipeline_run(conn: Connection, project_id: int, run_id: Any) -> str:
    found = None
    if isinstance(run_id, str) and run_id:
        found = conn.execute(
            select(pipeline_runs.c.id, pipeline_runs.c.pipeline).where(
                pipeline_runs.c.id == run_id, pipeline_runs.c.project_id == project_id
            )
        ).first()
    if found is None:
        raise InvalidInput(
            f"source: pipeline run {run_id!r} is not a pipeline run of this project; pass the "
            "id of the run whose output this is (run.id of pipeline.run(), see "
            "`relay pipelines list`)."
        )
    return str(found.pipeline)


def check_source(conn: Connection, project_id: int, source: Mapping[str, Any]) -> None:
    """InvalidInput if the source names a pipeline run the project does not have."""
    if "pipeline_run" in source:
        _pipeline_run(conn, project_id, source["pipeline_run"])


def record_dataset_version(
    conn: Connection, project_id: int, key: str, label: str, source: Mapping[str, Any]
) -> None:
    """Record a dataset version node with edges from its source and its pipeline run, if any."""
    nodes = [LineageNode(kind="dataset_version", key=key, label=label)]
    edges = []
    origin = source.get("uri") or source.get("url")
    if origin:
        query = source.get("query")
        text = f"{origin} ({query})" if query else str(origin)
        # named as OpenLineage names it, so that events about the same file or table meet it
        dataset = source_key(str(origin))
        nodes.append(LineageNode(kind="dataset", key=dataset, label=text[:500]))
        edges.append(_edge("dataset", dataset, key, "input_of"))
    run_id = source.get("pipeline_run")
    if run_id is not None:
        pipeline = _pipeline_run(conn, project_id, run_id)
        nodes.append(LineageNode(kind="pipeline_run", key=run_id, label=pipeline))
        edges.append(_edge("pipeline_run", run_id, key, "produced"))
    record(conn, nodes, edges)


def _edge(kind: str, src: str, dataset_version: str, relation: str) -> LineageEdge:
    return LineageEdge(
        src_kind=kind,
        src_key=src,
        dst_kind="dataset_version",
        dst_key=dataset_version,
        relation=relation,
    )
