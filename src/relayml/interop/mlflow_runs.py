"""What MLflow's run calls need beyond relayml's run use cases: latest points with their steps,
each run's experiment id, dataset inputs (as lineage), renames and MLflow's search syntax.

Every run returned to an MLflow client reads its latest points, experiment id and dataset inputs:
their statements are built once here (one run: prebuilt on the driver's cursor; many: SQLAlchemy
statements with expanding id lists, compiled once and then found in the engine's cache), and
``warm`` compiles them at server start so the first search does not pay for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.domain.validation import check_name
from relayml.errors import InvalidInput, NotFound
from relayml.governance import audit
from relayml.lineage import graph as lineage_graph
from relayml.store import Store
from relayml.store.fast import FastStatement
from relayml.store.schema import latest_metrics, lineage_edges, lineage_nodes, runs
from relayml.store.schema import tags as tags_t
from relayml.tracking.metrics import none_to_nan
from relayml.tracking.state import require_live

__all__ = [
    "dataset_inputs",
    "delete_tag",
    "experiment_ids",
    "latest_points",
    "log_inputs",
    "rename_run",
    "run_extras",
    "translate_filter",
    "translate_order_by",
    "warm",
]

# MLflow's attribute names -> relayml's (docs/tracking.md's grammar); None: not supported.
_ATTRIBUTES: dict[str, str | None] = {
    "run_name": "name",
    "run_id": "run_id",
    "user_id": "user",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "start_time",
    "artifact_uri": None,
    "lifecycle_stage": None,
}
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_ATTR_RE = re.compile(r"(?<![\w.`])(?:attributes|attribute|attr)\.`?([A-Za-z_]+)`?")
_UNSUPPORTED = re.compile(r"(?<![\w.`])(datasets|dataset|inputs)\.", re.IGNORECASE)


def _outside_quotes(text: str, change: Any) -> str:
    out, last = [], 0
    for match in _QUOTED.finditer(text):
        out.append(change(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(change(text[last:]))
    return "".join(out)


def _attributes(part: str) -> str:
    bad = _UNSUPPORTED.search(part)
    if bad:
        raise InvalidInput(
            f"searching by {bad.group(1)}.* is not supported by relayml's MLflow API; "
            "filter by metrics., params., tags. or attributes. instead."
        )

    def swap(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _ATTRIBUTES:
            raise InvalidInput(
                f"unknown attribute {name!r}; attributes are "
                f"{', '.join(k for k, v in _ATTRIBUTES.items() if v)}."
            )
        target = _ATTRIBUTES[name]
        if target is None:
            raise InvalidInput(f"searching by attributes.{name} is not supported by relayml.")
        return f"attributes.{target}"

    return _ATTR_RE.sub(swap, part)


def translate_filter(text: str | None) -> str | None:
    """An MLflow run filter in relayml's grammar; InvalidInput for what relayml cannot search."""
    if not text or not text.strip():
        return None
    return _outside_quotes(text, _attributes)


def translate_order_by(items: Sequence[str] | None) -> list[str] | None:
    """MLflow order-by clauses in relayml's grammar."""
    if not items:
        return None
    return [_outside_quotes(item, _attributes) for item in items]


_POINT_COLUMNS = (
    latest_metrics.c.key,
    latest_metrics.c.value,
    latest_metrics.c.step,
    latest_metrics.c.timestamp,
)
_POINTS = select(latest_metrics.c.run_id, *_POINT_COLUMNS).where(
    latest_metrics.c.run_id.in_(bindparam("ids", expanding=True))
)
_ONE_POINTS = FastStatement(
    select(*_POINT_COLUMNS).where(latest_metrics.c.run_id == bindparam("run_id"))
)
_EXPERIMENTS = select(runs.c.id, runs.c.experiment_id).where(
    runs.c.id.in_(bindparam("ids", expanding=True))
)
_ONE_EXPERIMENT = FastStatement(
    select(runs.c.id, runs.c.experiment_id).where(runs.c.id == bindparam("run_id"))
)


def _inputs_query(one: bool) -> Any:
    """The dataset inputs of runs (one: of the run :run_id; else: of the runs :ids)."""
    dst = (
        lineage_edges.c.dst_key == bindparam("run_id")
        if one
        else lineage_edges.c.dst_key.in_(bindparam("ids", expanding=True))
    )
    return (
        select(lineage_edges.c.dst_key, lineage_nodes.c.facets)
        .join(
            lineage_nodes,
            (lineage_nodes.c.kind == lineage_edges.c.src_kind)
            & (lineage_nodes.c.key == lineage_edges.c.src_key),
        )
        .where(  # named parameters with their values: a prebuilt statement is given each
            lineage_edges.c.dst_kind == bindparam("dst_kind", "run"),
            dst,
            lineage_edges.c.relation == bindparam("relation", "input_of"),
            lineage_edges.c.src_kind == bindparam("src_kind", "dataset"),
            lineage_edges.c.src_key.startswith(bindparam("src_prefix", "mlflow:")),
        )
        .order_by(lineage_edges.c.id)
    )


_INPUTS = _inputs_query(one=False)
_ONE_INPUTS = FastStatement(_inputs_query(one=True))
_INPUT_KINDS = {
    "dst_kind": "run",
    "relation": "input_of",
    "src_kind": "dataset",
    "src_prefix": "mlflow:",
}


def _points_in(
    conn: Connection, run_ids: Sequence[str]
) -> dict[str, list[tuple[str, float, int, int]]]:
    found: dict[str, list[tuple[str, float, int, int]]] = {r: [] for r in run_ids}
    if len(run_ids) == 1:
        rows: Any = [(run_ids[0], *r) for r in _ONE_POINTS.all(conn, {"run_id": run_ids[0]})]
    elif run_ids:
        rows = conn.execute(_POINTS, {"ids": list(run_ids)})
    else:
        return found
    for run_id, key, value, step, timestamp in rows:
        found[run_id].append((key, none_to_nan(value), int(step), int(timestamp)))
    return found


def _experiments_in(conn: Connection, run_ids: Sequence[str]) -> dict[str, int]:
    if len(run_ids) == 1:
        rows: Any = _ONE_EXPERIMENT.all(conn, {"run_id": run_ids[0]})
    elif run_ids:
        rows = conn.execute(_EXPERIMENTS, {"ids": list(run_ids)})
    else:
        return {}
    return {r[0]: int(r[1]) for r in rows}


def _inputs_in(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {r: [] for r in run_ids}
    if len(run_ids) == 1:
        rows: Any = _ONE_INPUTS.all(conn, {**_INPUT_KINDS, "run_id": run_ids[0]})
    elif run_ids:
        rows = conn.execute(_INPUTS, {"ids": list(run_ids)})
    else:
        return found
    for dst_key, raw in rows:
        facets = (json.loads(raw) if isinstance(raw, str | bytes) else raw) or {}
        tags = facets.get("mlflow_input_tags") or {}
        found[dst_key].append(
            {
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
                "dataset": facets.get("mlflow_dataset") or {},
            }
        )
    return found


def latest_points(
    store: Store, run_ids: Sequence[str]
) -> dict[str, list[tuple[str, float, int, int]]]:
    """run id -> (key, value, step, timestamp) of each metric's latest point."""
    if not run_ids:
        return {r: [] for r in run_ids}
    with store.read() as conn:
        return _points_in(conn, run_ids)


def experiment_ids(store: Store, run_ids: Sequence[str]) -> dict[str, int]:
    """run id -> relayml experiment id."""
    if not run_ids:
        return {}
    with store.read() as conn:
        return _experiments_in(conn, run_ids)


def run_extras(
    conn: Connection, run_ids: Sequence[str]
) -> tuple[
    dict[str, int],
    dict[str, list[tuple[str, float, int, int]]],
    dict[str, list[dict[str, Any]]],
]:
    """What MLflow's Run message needs beyond a relayml Run, in one transaction: the runs'
    experiment ids, latest points and dataset inputs."""
    return _experiments_in(conn, run_ids), _points_in(conn, run_ids), _inputs_in(conn, run_ids)


def warm(store: Store) -> None:
    """Compile the statements of ``run_extras`` (for one run and for many) on the store's
    connection, so that the first runs/get and runs/search after start-up do not pay for it."""
    with store.read() as conn:
        run_extras(conn, ["", " "])
        run_extras(conn, [""])


def _dataset_key(dataset: dict[str, Any]) -> str:
    name = str(dataset.get("name") or "dataset")
    digest = str(dataset.get("digest") or "")
    return f"mlflow:{name}@{digest}"[:420]


def log_inputs(store: Store, actor: str, run_id: str, inputs: Sequence[dict[str, Any]]) -> None:
    """Record datasets a run used: lineage nodes (kind dataset) with input_of edges; NotFound."""
    nodes, edges = [], []
    for item in inputs:
        dataset = dict(item.get("dataset") or {})
        if not dataset.get("name"):
            raise InvalidInput("each dataset input needs a dataset with a name.")
        key = _dataset_key(dataset)
        tags = {str(t.get("key")): str(t.get("value", "")) for t in item.get("tags") or []}
        facets = {"mlflow_dataset": dataset, "mlflow_input_tags": tags}
        nodes.append(
            LineageNode(kind="dataset", key=key, label=str(dataset["name"]), facets=facets)
        )
        edges.append(
            LineageEdge(
                src_kind="dataset", src_key=key, dst_kind="run", dst_key=run_id, relation="input_of"
            )
        )
    if not nodes:
        return
    with store.write() as conn:
        require_live(conn, run_id, "log inputs")
        lineage_graph.record(conn, nodes, edges)
        audit.record(
            conn,
            actor=actor,
            action="run.log_inputs",
            entity_kind="run",
            entity_id=run_id,
            after={"datasets": [n.key for n in nodes]},
        )


def dataset_inputs(store: Store, run_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """run id -> MLflow DatasetInput dicts recorded by log_inputs."""
    if not run_ids:
        return {r: [] for r in run_ids}
    with store.read() as conn:
        return _inputs_in(conn, run_ids)


def rename_run(store: Store, actor: str, run_id: str, name: str) -> None:
    """Give a run a new name; NotFound, InvalidInput, Conflict if deleted."""
    check_name(name, "run")
    with store.write() as conn:
        require_live(conn, run_id, "rename the run")
        before = conn.execute(select(runs.c.name).where(runs.c.id == run_id)).scalar()
        if before == name:
            return
        conn.execute(update(runs).where(runs.c.id == run_id).values(name=name))
        audit.record(
            conn,
            actor=actor,
            action="run.rename",
            entity_kind="run",
            entity_id=run_id,
            before={"name": before},
            after={"name": name},
        )


def delete_tag(store: Store, actor: str, run_id: str, key: str) -> None:
    """Remove a tag from a run; NotFound if the run or the tag is missing."""
    with store.write() as conn:
        require_live(conn, run_id, "delete a tag")
        gone = conn.execute(
            tags_t.delete().where(tags_t.c.run_id == run_id, tags_t.c.key == key)
        ).rowcount
        if not gone:
            raise NotFound(f"run {run_id} has no tag {key!r}.")
        audit.record(
            conn,
            actor=actor,
            action="run.delete_tag",
            entity_kind="run",
            entity_id=run_id,
            before={"key": key},
        )
