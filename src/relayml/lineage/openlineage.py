"""OpenLineage (spec 2-0-2) in and out of the lineage graph.

In: :func:`ingest` validates a RunEvent (or a static DatasetEvent / JobEvent) and maps it into
the graph, keeping every facet, known or not:

    job      --> node job      "namespace/name"   facets: the job's facets
    run      --> node job_run  runId               facets: the run's facets, plus eventType,
                                                   state, eventTime, startTime, endTime, job,
                                                   producer, inputFacets, outputFacets
    input    --> node dataset  "namespace/name"   edge dataset --input_of--> job_run
    output   --> node dataset  "namespace/name"   edge job_run --produced--> dataset
                                                   edge job_run --run_of--> job
    parent run facet                               edge parent job_run --parent_of--> job_run

Events are idempotent: the same event twice changes nothing, and a late START or RUNNING
does not undo a terminal state (COMPLETE, FAIL, ABORT).

Out: relayml.lineage.openlineage_out builds the events of relay's pipeline runs and sends them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, select

from relayml import __version__
from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.errors import InvalidInput
from relayml.governance import audit
from relayml.lineage.graph import audit_id, node_key, record
from relayml.lineage.identity import dataset_key
from relayml.store import Store
from relayml.store.schema import lineage_nodes

__all__ = [
    "EVENT_TYPES",
    "FACETS",
    "PRODUCER",
    "SCHEMA_URL",
    "Dataset",
    "ingest",
    "iso",
    "parse_event",
]

log = logging.getLogger(__name__)

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
TERMINAL = frozenset({"COMPLETE", "ABORT", "FAIL"})
PRODUCER = f"urn:relayml:{__version__}"
SPEC = "https://openlineage.io/spec"
SCHEMA_URL = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACETS = f"{SPEC}/facets"

EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]
_OPEN = ConfigDict(extra="allow")


class _Job(BaseModel):
    model_config = _OPEN
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    facets: dict[str, Any] = Field(default_factory=dict)


class _Run(BaseModel):
    model_config = _OPEN
    runId: uuid.UUID
    facets: dict[str, Any] = Field(default_factory=dict)


class Dataset(BaseModel):
    model_config = _OPEN
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    facets: dict[str, Any] = Field(default_factory=dict)


class _Input(Dataset):
    inputFacets: dict[str, Any] = Field(default_factory=dict)


class _Output(Dataset):
    outputFacets: dict[str, Any] = Field(default_factory=dict)


class _Base(BaseModel):
    model_config = _OPEN
    eventTime: datetime
    producer: str = Field(min_length=1)
    schemaURL: str = ""  # required by the spec; not needed to map the event


class RunEvent(_Base):
    """A run's transition: START, RUNNING, COMPLETE, ABORT, FAIL or OTHER."""

    eventType: EventType = "OTHER"  # optional in the spec
    run: _Run
    job: _Job
    inputs: list[_Input] = Field(default_factory=list)
    outputs: list[_Output] = Field(default_factory=list)


class DatasetEvent(_Base):
    """Metadata about a dataset, outside any run."""

    dataset: Dataset


class JobEvent(_Base):
    """A job's inputs and outputs, outside any run."""

    job: _Job
    inputs: list[_Input] = Field(default_factory=list)
    outputs: list[_Output] = Field(default_factory=list)


def _where(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def parse_event(data: Any) -> RunEvent | DatasetEvent | JobEvent:
    """Validate an OpenLineage event; InvalidInput names each wrong field."""
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"an OpenLineage event is a JSON object, not {type(data).__name__}; "
            "send a RunEvent (eventType, eventTime, producer, run, job, inputs, outputs)."
        )
    kind: type[RunEvent | DatasetEvent | JobEvent] = RunEvent
    if "run" not in data and "eventType" not in data:
        if "dataset" in data:
            kind = DatasetEvent
        elif "job" in data:
            kind = JobEvent
    try:
        return kind.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)[:5]
        )
        raise InvalidInput(
            f"invalid OpenLineage {kind.__name__}: {problems}. A RunEvent (spec 2-0-2) needs "
            "eventTime, producer, run.runId (a UUID), job.namespace and job.name; eventType is "
            f"one of {', '.join(EVENT_TYPES)}."
        ) from None


def iso(moment: datetime) -> str:
    """A time as the spec writes it: ISO 8601 in UTC with microseconds and Z (naive is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _dataset_node(ds: Dataset) -> LineageNode:
    return LineageNode(
        kind="dataset", key=dataset_key(ds.namespace, ds.name), label=ds.name, facets=ds.facets
    )


def _job_node(job: _Job) -> LineageNode:
    return LineageNode(
        kind="job", key=f"{job.namespace}/{job.name}", label=job.name, facets=job.facets
    )


def _run_state(event: RunEvent, old: Mapping[str, Any]) -> dict[str, Any]:
    """eventType, state and times of a job_run after this event, given what is stored."""
    when = iso(event.eventTime)
    out: dict[str, Any] = {
        "job": f"{event.job.namespace}/{event.job.name}",
        "producer": event.producer,
        "eventTime": max(when, str(old.get("eventTime") or "")),
    }
    if event.eventType == "START":
        out["startTime"] = when
    if event.eventType in TERMINAL:
        out["endTime"] = when
    if old.get("state") in TERMINAL and event.eventType not in TERMINAL:
        return out  # a late START / RUNNING / OTHER keeps the terminal state
    if event.eventType == "OTHER" and old.get("state"):
        return out
    state = "RUNNING" if event.eventType == "START" else event.eventType
    out.update(eventType=event.eventType, state=state)
    return out


def _parent(facets: Mapping[str, Any]) -> tuple[str, _Job] | None:
    """The parent run facet's (runId, job), when it is well formed."""
    parent = facets.get("parent")
    if not isinstance(parent, Mapping):
        return None
    try:
        run = _Run.model_validate(parent.get("run"))
        job = _Job.model_validate(parent.get("job"))
    except ValidationError:
        return None
    return str(run.runId), job


def _map_run_event(
    event: RunEvent, old: Mapping[str, Any]
) -> tuple[list[LineageNode], list[LineageEdge]]:
    run_id = str(event.run.runId)
    job = _job_node(event.job)
    facets: dict[str, Any] = {**event.run.facets, **_run_state(event, old)}
    ins = {
        node_key(dataset_key(d.namespace, d.name)): d.inputFacets
        for d in event.inputs
        if d.inputFacets
    }
    outs = {
        node_key(dataset_key(d.namespace, d.name)): d.outputFacets
        for d in event.outputs
        if d.outputFacets
    }
    if ins:
        facets["inputFacets"] = {**(old.get("inputFacets") or {}), **ins}
    if outs:
        facets["outputFacets"] = {**(old.get("outputFacets") or {}), **outs}
    run = LineageNode(kind="job_run", key=run_id, label=event.job.name, facets=facets)
    nodes = [job, run]
    edges = [_edge(run, job, "run_of")]
    for ds in event.inputs:
        node = _dataset_node(ds)
        nodes.append(node)
        edges.append(_edge(node, run, "input_of"))
    for out in event.outputs:
        node = _dataset_node(out)
        nodes.append(node)
        edges.append(_edge(run, node, "produced"))
    parent = _parent(event.run.facets)
    if parent is not None and parent[0] != run_id:
        parent_run = LineageNode(kind="job_run", key=parent[0], label=parent[1].name)
        parent_job = _job_node(parent[1]).model_copy(update={"facets": {}})
        nodes += [parent_run, parent_job]
        edges += [_edge(parent_run, run, "parent_of"), _edge(parent_run, parent_job, "run_of")]
    return nodes, edges


def _edge(src: LineageNode, dst: LineageNode, relation: str) -> LineageEdge:
    return LineageEdge(
        src_kind=src.kind, src_key=src.key, dst_kind=dst.kind, dst_key=dst.key, relation=relation
    )


def _stored_run_facets(conn: Connection, run_id: str) -> dict[str, Any]:
    query = select(lineage_nodes.c.facets).where(
        lineage_nodes.c.kind == "job_run", lineage_nodes.c.key == run_id
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return dict(row.facets or {}) if row is not None else {}


def ingest(store: Store, actor: str, data: Any) -> None:
    """Validate an OpenLineage event and record it in the lineage graph, with an audit entry."""
    event = parse_event(data)
    with store.write() as conn:
        if isinstance(event, RunEvent):
            run_id = str(event.run.runId)
            nodes, edges = _map_run_event(event, _stored_run_facets(conn, run_id))
            entity: tuple[str, str] = ("job_run", run_id)
            summary: dict[str, Any] = {
                "eventType": event.eventType,
                "job": f"{event.job.namespace}/{event.job.name}",
                "inputs": len(event.inputs),
                "outputs": len(event.outputs),
            }
        elif isinstance(event, DatasetEvent):
            nodes, edges = [_dataset_node(event.dataset)], []
            entity, summary = ("dataset", nodes[0].key), {"event": "DatasetEvent"}
        else:
            job = _job_node(event.job)
            nodes, edges = [job], []
            for ds in event.inputs:
                nodes.append(_dataset_node(ds))
                edges.append(_edge(nodes[-1], job, "input_of"))
            for out in event.outputs:
                nodes.append(_dataset_node(out))
                edges.append(_edge(job, nodes[-1], "produced"))
            entity, summary = ("job", job.key), {"event": "JobEvent"}
        record(conn, nodes, edges)
        audit.record(
            conn,
            actor=actor,
            action="lineage.openlineage",
            entity_kind=entity[0],
            entity_id=audit_id(entity[1]),
            after={**summary, "producer": event.producer},
        )
