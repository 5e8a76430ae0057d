"""Lineage: link, walk and OpenLineage ingestion, the same on SQLite, PostgreSQL and HTTP.

The contract tests run on the ``backend`` fixture. The tests at the end run the service and
``LocalBackend`` in-process on SQLite and PostgreSQL, among them deep and wide graphs.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput, NotFound
from relayml.lineage import graph
from relayml.store import Store


def node(kind: str, key: str, label: str = "", **facets: Any) -> LineageNode:
    return LineageNode(kind=kind, key=key, label=label, facets=facets)


def edge(src: tuple[str, str], dst: tuple[str, str], relation: str) -> LineageEdge:
    return LineageEdge(
        src_kind=src[0], src_key=src[1], dst_kind=dst[0], dst_key=dst[1], relation=relation
    )


def idents(g: LineageGraph) -> set[tuple[str, str]]:
    return {(n.kind, n.key) for n in g.nodes}


def arrows(g: LineageGraph) -> set[tuple[str, str, str]]:
    return {(e.src_key, e.relation, e.dst_key) for e in g.edges}


@pytest.fixture
def tag() -> str:
    """A prefix that keeps each test's keys apart on the shared server."""
    return uuid.uuid4().hex[:8]


def build_chain(b: Backend, tag: str) -> dict[str, tuple[str, str]]:
    """source -> dataset_version -> run -> model_version, and a second input of the run."""
    n = {
        "src": ("source", f"s3://bucket/{tag}/raw customers.csv"),
        "dv": ("dataset_version", f"{tag}/customers@1"),
        "dv2": ("dataset_version", f"{tag}/holidays@4"),
        "run": ("run", f"{tag}run"),
        "mv": ("model_version", f"{tag}/churn/1"),
    }
    b.link(
        [node(*n["dv"], "customers@1", rows=10), node(*n["run"], "train")],
        [
            edge(n["src"], n["dv"], "derived_from"),
            edge(n["dv"], n["run"], "input_of"),
            edge(n["dv2"], n["run"], "input_of"),
            edge(n["run"], n["mv"], "produced"),
        ],
    )
    return n


def test_walks_upstream_downstream_and_both(backend: Backend, tag: str) -> None:
    n = build_chain(backend, tag)
    both = backend.lineage(*n["run"])
    assert both.root == node(*n["run"], "train")
    assert both.nodes[0] == both.root
    assert idents(both) == set(n.values())
    assert arrows(both) == {
        (n["src"][1], "derived_from", n["dv"][1]),
        (n["dv"][1], "input_of", n["run"][1]),
        (n["dv2"][1], "input_of", n["run"][1]),
        (n["run"][1], "produced", n["mv"][1]),
    }
    assert both.depth == 3 and not both.truncated
    dv = next(x for x in both.nodes if (x.kind, x.key) == n["dv"])
    assert dv.label == "customers@1" and dv.facets == {"rows": 10}

    up = backend.lineage(*n["mv"], direction="upstream", depth=10)
    assert idents(up) == set(n.values())
    down = backend.lineage(*n["mv"], direction="downstream")
    assert idents(down) == {n["mv"]} and down.edges == []
    down = backend.lineage(*n["src"], direction="downstream")
    assert idents(down) == {n["src"], n["dv"], n["run"], n["mv"]}


def test_depth_bounds_the_walk(backend: Backend, tag: str) -> None:
    keys = [f"{tag}-{i}" for i in range(6)]
    backend.link(
        [], [edge(("run", a), ("run", b), "produced") for a, b in itertools.pairwise(keys)]
    )
    g = backend.lineage("run", keys[3], depth=2)
    assert [x.key for x in g.nodes] == sorted(keys[1:6], key=lambda k: abs(int(k[-1]) - 3))
    assert len(g.edges) == 4 and g.depth == 2
    g = backend.lineage("run", keys[3], depth=1, direction="upstream")
    assert idents(g) == {("run", keys[3]), ("run", keys[2])}


def test_link_is_idempotent_and_merges_labels_and_facets(backend: Backend, tag: str) -> None:
    n = build_chain(backend, tag)
    build_chain(backend, tag)
    backend.link([node(*n["dv"], "", profile={"rows": 10}), node(*n["mv"], "churn v1")])
    backend.link([node(*n["dv"], "customers, first cut", rows=11)])
    g = backend.lineage(*n["run"], depth=5)
    assert len(g.edges) == 4
    by = {(x.kind, x.key): x for x in g.nodes}
    assert by[n["dv"]].label == "customers, first cut"
    assert by[n["dv"]].facets == {"rows": 11, "profile": {"rows": 10}}
    assert by[n["mv"]].label == "churn v1"
    assert by[n["dv2"]] == node(*n["dv2"])  # an edge's end, never described


def test_link_writes_an_audit_entry(backend: Backend, tag: str) -> None:
    n = build_chain(backend, tag)
    entries = backend.list_audit(entity_kind="dataset_version", entity_id=n["dv"][1])
    assert [e.action for e in entries] == ["lineage.link"]
    assert entries[0].actor == "alice"
    assert entries[0].after is not None and entries[0].after["edge_count"] == 4


@pytest.mark.parametrize(
    "key",
    [
        "s3://bucket/a b/c?d=1#frag%41",
        "données/é@1",
        "trailing/slash/",
        "..%2F../x",
        "a" * 700,  # longer than the column: stored by prefix and hash
    ],
)
def test_keys_keep_every_character(backend: Backend, tag: str, key: str) -> None:
    key = f"{tag}/{key}"
    backend.link([node("source", key, "odd")], [edge(("source", key), ("run", tag), "input_of")])
    g = backend.lineage("source", key)
    assert g.root.label == "odd" and g.root.key == graph.node_key(key)
    assert idents(g) == {("source", graph.node_key(key)), ("run", tag)}


def test_cycles_and_diamonds_end(backend: Backend, tag: str) -> None:
    a, b, c, d = (("run", f"{tag}{x}") for x in "abcd")
    backend.link(
        [],
        [
            edge(a, b, "produced"),
            edge(b, a, "derived_from"),
            edge(a, c, "produced"),
            edge(b, d, "produced"),
            edge(c, d, "produced"),
        ],
    )
    g = backend.lineage(*a, depth=50)
    assert idents(g) == {a, b, c, d}
    assert len(g.edges) == 5


def test_unknown_node_is_not_found(backend: Backend, tag: str) -> None:
    with pytest.raises(NotFound) as err:
        backend.lineage("dataset_version", f"{tag}/nothing@1")
    assert f"dataset_version '{tag}/nothing@1'" in err.value.message
    assert "relay lineage --help" in err.value.message


def test_a_node_alone_is_found(backend: Backend, tag: str) -> None:
    backend.link([node("source", f"file:///{tag}.csv", "lonely")])
    g = backend.lineage("source", f"file:///{tag}.csv")
    assert g.nodes == [g.root] and g.edges == [] and g.root.label == "lonely"


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        ({"direction": "sideways"}, "direction 'sideways' is not one of upstream"),
        ({"depth": 0}, "depth must be a whole number from 1"),
        ({"depth": 100_000}, "depth must be a whole number from 1 to 10000"),
        ({"kind": "Dataset Version"}, "lineage kind 'Dataset Version' must be"),
    ],
)
def test_bad_queries_say_what_is_wrong(
    backend: Backend, tag: str, call: dict[str, Any], fragment: str
) -> None:
    build_chain(backend, tag)
    args: dict[str, Any] = {"kind": "run", "key": f"{tag}run", **call}
    with pytest.raises(InvalidInput) as err:
        backend.lineage(args.pop("kind"), args.pop("key"), **args)
    assert fragment in err.value.message


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (edge(("run", "x"), ("run", "x"), "produced"), "cannot link run 'x' to itself"),
        (edge(("run", "x"), ("Run", "y"), "produced"), "lineage kind 'Run' must be"),
        (edge(("run", "x"), ("run", "y"), "made-by"), "lineage relation 'made-by' must be"),
        (edge(("run", "x"), ("run", " "), "produced"), "needs a non-empty key"),
    ],
)
def test_a_bad_edge_stores_nothing(
    backend: Backend, tag: str, bad: LineageEdge, fragment: str
) -> None:
    good = edge(("run", f"{tag}a"), ("run", f"{tag}b"), "produced")
    with pytest.raises(InvalidInput) as err:
        backend.link([node("run", f"{tag}a", "a")], [good, bad])
    assert fragment in err.value.message
    with pytest.raises(NotFound):
        backend.lineage("run", f"{tag}a")


# --- OpenLineage ---------------------------------------------------------------------------


def run_event(run_id: str, event_type: str, tag: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": event_type,
        "eventTime": "2026-01-02T03:04:05.123Z" if event_type == "START" else "2026-01-02T03:09Z",
        "producer": "https://example.com/our-scheduler",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": f"etl-{tag}", "name": "load.orders", "facets": {}},
        "inputs": [{"namespace": f"postgres://db-{tag}:5432", "name": "public.orders"}],
        "outputs": [],
    }
    event.update(extra)
    return event


def test_openlineage_run_maps_into_the_graph(backend: Backend, tag: str) -> None:
    run_id = str(uuid.uuid4())
    custom = {"_producer": "x", "_schemaURL": "x#Custom", "anything": [1, {"deep": True}]}
    start = run_event(run_id, "START", tag)
    start["run"]["facets"] = {"ourCustomFacet": custom}
    start["job"]["facets"] = {"sql": {"_producer": "x", "_schemaURL": "x", "query": "select 1"}}
    start["inputs"][0]["facets"] = {"schema": {"_producer": "x", "_schemaURL": "x", "fields": []}}
    complete = run_event(run_id, "COMPLETE", tag)
    complete["inputs"] = []
    complete["outputs"] = [
        {
            "namespace": "s3://warehouse",
            "name": f"{tag}/orders_clean",
            "outputFacets": {
                "outputStatistics": {"_producer": "x", "_schemaURL": "x", "rowCount": 7}
            },
        }
    ]
    backend.ingest_openlineage(start)
    backend.ingest_openlineage(complete)
    backend.ingest_openlineage(complete)  # idempotent

    g = backend.lineage("job_run", run_id)
    job = ("job", f"etl-{tag}/load.orders")
    source = ("dataset", f"postgres://db-{tag}:5432/public.orders")
    output = ("dataset", f"s3://warehouse/{tag}/orders_clean")
    assert idents(g) == {("job_run", run_id), job, source, output}
    assert {(e.src_kind, e.relation, e.dst_kind) for e in g.edges} == {
        ("job_run", "run_of", "job"),
        ("dataset", "input_of", "job_run"),
        ("job_run", "produced", "dataset"),
    }
    assert len(g.edges) == 3
    facets = g.root.facets
    assert facets["ourCustomFacet"] == custom
    assert facets["eventType"] == "COMPLETE" and facets["state"] == "COMPLETE"
    assert facets["startTime"] == "2026-01-02T03:04:05.123000Z"
    assert facets["endTime"] == "2026-01-02T03:09:00.000000Z"
    assert facets["job"] == job[1]
    assert facets["outputFacets"][output[1]]["outputStatistics"]["rowCount"] == 7
    assert g.root.label == "load.orders"
    by = {(x.kind, x.key): x for x in g.nodes}
    assert by[job].facets["sql"]["query"] == "select 1"
    assert by[source].facets["schema"]["fields"] == [] and by[source].label == "public.orders"

    backend.ingest_openlineage(start)  # a late START keeps the terminal state
    assert backend.lineage("job_run", run_id).root.facets["state"] == "COMPLETE"
    entries = backend.list_audit(entity_kind="job_run", entity_id=run_id)
    assert [e.action for e in entries] == ["lineage.openlineage"] * 4


def test_openlineage_parent_run_links_runs(backend: Backend, tag: str) -> None:
    parent, child = str(uuid.uuid4()), str(uuid.uuid4())
    event = run_event(child, "FAIL", tag)
    event["run"]["facets"] = {
        "parent": {
            "_producer": "x",
            "_schemaURL": "x",
            "run": {"runId": parent},
            "job": {"namespace": f"airflow-{tag}", "name": "dag"},
        }
    }
    backend.ingest_openlineage(event)
    g = backend.lineage("job_run", child, direction="upstream")
    assert ("job_run", parent) in idents(g)
    assert (parent, "parent_of", child) in arrows(g)
    assert g.root.facets["state"] == "FAIL"


def test_openlineage_static_dataset_and_job_events(backend: Backend, tag: str) -> None:
    base = {"eventTime": "2026-01-01T00:00:00Z", "producer": "p", "schemaURL": "s"}
    facets = {"documentation": {"_producer": "p", "_schemaURL": "s", "description": "raw"}}
    backend.ingest_openlineage(
        {**base, "dataset": {"namespace": f"ns-{tag}", "name": "raw", "facets": facets}}
    )
    backend.ingest_openlineage(
        {
            **base,
            "job": {"namespace": f"ns-{tag}", "name": "clean"},
            "inputs": [{"namespace": f"ns-{tag}", "name": "raw"}],
            "outputs": [{"namespace": f"ns-{tag}", "name": "clean"}],
        }
    )
    g = backend.lineage("dataset", f"ns-{tag}/raw", direction="downstream")
    assert g.root.facets == facets
    assert arrows(g) == {
        (f"ns-{tag}/raw", "input_of", f"ns-{tag}/clean"),
        (f"ns-{tag}/clean", "produced", f"ns-{tag}/clean"),
    }


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda e: e["run"].pop("runId"), "run.runId: Field required"),
        (lambda e: e["run"].update(runId="not-a-uuid"), "run.runId: Input should be a valid UUID"),
        (lambda e: e.update(eventType="DONE"), "eventType: Input should be 'START'"),
        (lambda e: e.pop("eventTime"), "eventTime: Field required"),
        (lambda e: e.update(eventTime="yesterday"), "eventTime: Input should be a valid datetime"),
        (lambda e: e.pop("producer"), "producer: Field required"),
        (lambda e: e["job"].pop("name"), "job.name: Field required"),
        (lambda e: e["job"].update(namespace=""), "job.namespace: String should have at least 1"),
        (lambda e: e["inputs"][0].pop("name"), "inputs[0].name: Field required"),
        (lambda e: e.update(run="r"), "run: Input should be a valid dictionary"),
        (lambda e: e.pop("run"), "run: Field required"),
        (lambda e: e["run"].update(facets=[]), "run.facets: Input should be a valid dictionary"),
    ],
)
def test_malformed_openlineage_event_names_the_field(
    backend: Backend, tag: str, change: Any, fragment: str
) -> None:
    run_id = str(uuid.uuid4())
    event = run_event(run_id, "START", tag)
    change(event)
    with pytest.raises(InvalidInput) as err:
        backend.ingest_openlineage(event)
    assert "invalid OpenLineage RunEvent" in err.value.message
    assert fragment in err.value.message, err.value.message
    with pytest.raises(NotFound):
        backend.lineage("job", f"etl-{tag}/load.orders")


# --- in-process: the service and LocalBackend on SQLite and PostgreSQL ----------------------


@pytest.fixture
def local(store_url: str, tmp_path: Path) -> Iterator[LocalBackend]:
    b = LocalBackend(get_settings(home=tmp_path / "home", user="bob", database_url=store_url))
    try:
        yield b
    finally:
        b.close()


def test_local_smoke(local: LocalBackend) -> None:
    n = build_chain(local, "smoke")
    assert idents(local.lineage(*n["run"])) == set(n.values())
    run_id = str(uuid.uuid4())
    local.ingest_openlineage(run_event(run_id, "START", "smoke"))
    assert local.lineage("job_run", run_id).root.facets["state"] == "RUNNING"
    assert local.list_audit(entity_kind="job_run", entity_id=run_id)[0].actor == "bob"


def test_record_joins_the_callers_transaction(local: LocalBackend) -> None:
    store: Store = local.store
    with pytest.raises(RuntimeError), store.write() as conn:
        graph.record(conn, [node("run", "r1")], [edge(("run", "r1"), ("run", "r2"), "produced")])
        raise RuntimeError("the caller's use case failed")
    with pytest.raises(NotFound):
        local.lineage("run", "r1")
    with store.write() as conn:
        graph.record(conn, [node("run", "r1", "one")], [edge(("run", "r1"), ("run", "r2"), "x")])
        graph.record(conn, [], [edge(("run", "r1"), ("run", "r2"), "x")])
    assert arrows(local.lineage("run", "r2")) == {("r1", "x", "r2")}


def test_a_deep_chain_answers_in_one_walk(local: LocalBackend) -> None:
    keys = [f"c{i:04d}" for i in range(1001)]
    with local.store.write() as conn:
        graph.record(
            conn,
            [],
            [
                edge(("step_run", a), ("step_run", b), "produced")
                for a, b in itertools.pairwise(keys)
            ],
        )
    g = local.lineage("step_run", keys[-1], depth=1000, direction="upstream")
    assert [x.key for x in g.nodes] == keys[::-1] and len(g.edges) == 1000
    assert not g.truncated
    g = local.lineage("step_run", keys[500], depth=10)
    assert [x.key for x in g.nodes][:3] == [keys[500], keys[499], keys[501]]
    assert len(g.nodes) == 21 and len(g.edges) == 20
    g = local.lineage("step_run", keys[0], depth=10_000, direction="downstream")
    assert len(g.nodes) == 1001


def test_a_wide_fan_is_truncated_nearest_first(local: LocalBackend) -> None:
    root = ("dataset_version", "p/wide@1")
    leaves = [("run", f"r{i:05d}") for i in range(10_000)]
    local.link([node(*root, "wide")], [edge(root, leaf, "input_of") for leaf in leaves])
    local.link([], [edge(leaves[0], ("model_version", "p/m/1"), "produced")])
    g = local.lineage(*root, depth=2, direction="downstream")
    assert g.truncated
    assert len(g.nodes) == graph.MAX_NODES
    assert g.nodes[0].key == "p/wide@1"
    assert {x.kind for x in g.nodes[1:]} == {"run"}  # depth 1 first; the model is at depth 2
    assert len(g.edges) == graph.MAX_NODES - 1
    up = local.lineage("run", "r09999", direction="upstream")
    assert idents(up) == {("run", "r09999"), root} and not up.truncated
    down = local.lineage("model_version", "p/m/1", direction="upstream", depth=2)
    assert idents(down) == {("model_version", "p/m/1"), leaves[0], root}
