"""OpenLineage end to end: the real openlineage-python client's HTTP transport against a relay
server, relay's own pipeline events round the same way, and the emitter against a small HTTP
receiver that fails on purpose."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import attr
import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
)
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from relayml.domain.lineage import LineageGraph
from relayml.lineage.openlineage import PRODUCER
from relayml.lineage.openlineage_out import emit, pipeline_run_event
from tests.fixtures.auth import ADMIN_TOKEN
from tests.fixtures.net import free_port, loopback


@pytest.fixture
def server(relay_server: str) -> str:
    """The shared relay server; its app carries the lineage routes."""
    return relay_server


# The shared server has auth on: its API and its OpenLineage route take alice's token.
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _key() -> ApiKeyTokenProvider:
    return ApiKeyTokenProvider({"api_key": ADMIN_TOKEN})


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server + "/api/v1", timeout=30, headers=AUTH) as client:
        yield client


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


def test_openapi_documents_the_lineage_routes(server: str) -> None:
    spec = loopback.get(server + "/openapi.json", timeout=30).json()
    paths = spec["paths"]
    assert "post" in paths["/api/v1/lineage"]
    body = paths["/api/v1/lineage"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["eventTime", "producer", "run", "job"]
    assert "get" in paths["/api/v1/lineage/{kind}/{key}"]
    assert "post" in paths["/api/v1/lineage/links"]
    graph = spec["components"]["schemas"]["LineageGraph"]
    assert {"root", "nodes", "edges", "depth", "truncated"} <= set(graph["properties"])


def graph_of(api: httpx.Client, kind: str, key: str, **params: Any) -> LineageGraph:
    response = api.get(f"/lineage/{quote(kind, safe='')}/{quote(key, safe='')}", params=params)
    assert response.status_code == 200, response.text
    return LineageGraph.model_validate_json(response.content)


def ol_client(url: str, **config: Any) -> OpenLineageClient:
    return OpenLineageClient(transport=HttpTransport(HttpConfig(url=url, **config)))


@attr.define
class TeamRunFacet(RunFacet):
    """A facet relay has never heard of."""

    team: str = "fraud"
    oncall: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return "https://example.com/schemas/TeamRunFacet.json#/$defs/TeamRunFacet"


def test_openlineage_client_start_and_complete_build_the_graph(
    server: str, api: httpx.Client, tag: str
) -> None:
    client = ol_client(server, auth=ApiKeyTokenProvider({"api_key": ADMIN_TOKEN}))
    run_id = str(uuid.uuid4())
    parent_id = str(uuid.uuid4())
    job = Job(namespace=f"airflow-{tag}", name="orders_dag.load")
    schema = schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name="order_id", type="BIGINT")]
    )
    inputs = [
        InputDataset(
            namespace="postgres://db:5432", name=f"{tag}.orders", facets={"schema": schema}
        ),
        InputDataset(namespace="s3://landing", name=f"{tag}/fx_rates.csv"),
    ]
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent_id),
        job=parent_run.Job(namespace=f"airflow-{tag}", name="orders_dag"),
    )
    start = RunEvent(
        eventType=RunState.START,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id, facets={"parent": parent, "team": TeamRunFacet(oncall=["ann"])}),
        job=job,
        producer="https://example.com/airflow",
        inputs=inputs,
    )
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=42)
    complete = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id),
        job=job,
        producer="https://example.com/airflow",
        inputs=inputs,
        outputs=[
            OutputDataset(
                namespace="s3://warehouse",
                name=f"{tag}/orders_clean",
                outputFacets={"outputStatistics": stats},
            )
        ],
    )
    try:
        client.emit(start)
        client.emit(complete)
        client.emit(complete)  # a retry of the same event changes nothing
    finally:
        client.close()

    g = graph_of(api, "job_run", run_id, depth=2)
    keys = {(n.kind, n.key) for n in g.nodes}
    assert keys == {
        ("job_run", run_id),
        ("job_run", parent_id),
        ("job", f"airflow-{tag}/orders_dag.load"),
        ("dataset", f"postgres://db:5432/{tag}.orders"),
        ("dataset", f"s3://landing/{tag}/fx_rates.csv"),
        ("dataset", f"s3://warehouse/{tag}/orders_clean"),
    }
    assert sorted((e.src_kind, e.relation, e.dst_kind) for e in g.edges) == [
        ("dataset", "input_of", "job_run"),
        ("dataset", "input_of", "job_run"),
        ("job_run", "parent_of", "job_run"),
        ("job_run", "produced", "dataset"),
        ("job_run", "run_of", "job"),
    ]  # the parent's own job is beside the walk, not up or down from the run
    facets = g.root.facets
    assert facets["state"] == "COMPLETE" and facets["eventType"] == "COMPLETE"
    assert facets["startTime"] < facets["endTime"]
    assert facets["team"]["team"] == "fraud" and facets["team"]["oncall"] == ["ann"]
    assert facets["team"]["_schemaURL"].endswith("TeamRunFacet")
    assert facets["parent"]["run"]["runId"] == parent_id
    assert (
        facets["outputFacets"][f"s3://warehouse/{tag}/orders_clean"]["outputStatistics"]["rowCount"]
        == 42
    )
    orders = next(n for n in g.nodes if n.key == f"postgres://db:5432/{tag}.orders")
    [field] = orders.facets["schema"]["fields"]
    assert (field["name"], field["type"]) == ("order_id", "BIGINT")

    down = graph_of(api, "dataset", f"postgres://db:5432/{tag}.orders", direction="downstream")
    assert [(n.kind, n.key) for n in down.nodes] == [
        ("dataset", f"postgres://db:5432/{tag}.orders"),
        ("job_run", run_id),
        ("dataset", f"s3://warehouse/{tag}/orders_clean"),
        ("job", f"airflow-{tag}/orders_dag.load"),
    ]


def test_gzip_bodies_are_accepted(server: str, api: httpx.Client, tag: str) -> None:
    client = ol_client(server, compression=HttpCompression.GZIP, auth=_key())
    run_id = str(uuid.uuid4())
    try:
        client.emit(
            RunEvent(
                eventType=RunState.START,
                eventTime=datetime.now(UTC).isoformat(),
                run=Run(runId=run_id),
                job=Job(namespace=f"spark-{tag}", name="compact"),
                producer="https://example.com/spark",
                inputs=[InputDataset(namespace="hdfs://nn", name=f"/{tag}/events")],
            )
        )
    finally:
        client.close()
    g = graph_of(api, "job_run", run_id)
    assert g.root.facets["state"] == "RUNNING"
    assert ("dataset", f"hdfs://nn/{tag}/events") in {(n.kind, n.key) for n in g.nodes}


def valid_event(tag: str) -> dict[str, Any]:
    return {
        "eventType": "START",
        "eventTime": "2026-03-01T10:00:00Z",
        "producer": "https://example.com/dbt",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": f"dbt-{tag}", "name": "model.orders"},
        "inputs": [{"namespace": "snowflake://acct", "name": "raw.orders"}],
    }


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda e: e["run"].pop("runId"), "run.runId: Field required"),
        (lambda e: e["run"].update(runId="12345"), "run.runId: Input should be a valid UUID"),
        (lambda e: e.update(eventType="FINISHED"), "eventType: Input should be 'START'"),
        (lambda e: e["job"].pop("namespace"), "job.namespace: Field required"),
        (lambda e: e.pop("eventTime"), "eventTime: Field required"),
        (
            lambda e: e["inputs"][0].update(name=None),
            "inputs[0].name: Input should be a valid string",
        ),
    ],
)
def test_malformed_event_is_422_naming_the_field(
    api: httpx.Client, tag: str, change: Any, fragment: str
) -> None:
    event = valid_event(tag)
    change(event)
    response = api.post("/lineage", json=event)
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "INVALID_INPUT"
    assert fragment in body["error"]["message"], body
    missing = api.get(f"/lineage/job/{quote(f'dbt-{tag}/model.orders', safe='')}")
    assert missing.status_code == 404
    assert "relay lineage --help" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content", "headers", "fragment"),
    [
        (b"{not json", {}, "the body is not JSON"),
        (b"[1, 2]", {}, "an OpenLineage event is a JSON object, not list"),
        (b"plain", {"Content-Encoding": "gzip"}, "the body is not valid gzip data"),
        (b"{}", {"Content-Encoding": "br"}, "Content-Encoding 'br' is not supported"),
    ],
)
def test_bodies_that_are_no_event_are_422(
    api: httpx.Client, content: bytes, headers: dict[str, str], fragment: str
) -> None:
    response = api.post("/lineage", content=content, headers=headers)
    assert response.status_code == 422
    assert fragment in response.json()["error"]["message"]


def test_a_valid_event_answers_201(api: httpx.Client, tag: str) -> None:
    event = valid_event(tag)
    body = gzip.compress(json.dumps(event).encode())
    response = api.post(
        "/lineage",
        content=body,
        headers={"Content-Encoding": "gzip"},  # and the client's token
    )
    assert response.status_code == 201 and response.json() == {}
    assert graph_of(api, "job", f"dbt-{tag}/model.orders").root.label == "model.orders"


def test_relay_pipeline_events_round_trip(server: str, api: httpx.Client, tag: str) -> None:
    project = f"demo-{tag}"
    common: dict[str, Any] = {
        "project": project,
        "pipeline": "build_features",
        "run_id": uuid.uuid4().hex,
        "inputs": ["customers@3", "s3://raw/customers.csv"],
    }
    assert emit(server, pipeline_run_event("START", **common), api_key=ADMIN_TOKEN)
    done = pipeline_run_event("COMPLETE", outputs=["features@1"], **common)
    assert emit(server, done, api_key=ADMIN_TOKEN)
    run_uuid = done["run"]["runId"]
    assert run_uuid == str(uuid.UUID(common["run_id"]))
    g = graph_of(api, "job_run", run_uuid)
    assert {(n.kind, n.key) for n in g.nodes} == {
        ("job_run", run_uuid),
        ("job", f"relayml://{project}/build_features"),
        ("dataset", f"relayml://{project}/customers"),
        ("dataset", "s3://raw/customers.csv"),
        ("dataset", f"relayml://{project}/features"),
    }
    job = graph_of(api, "job", f"relayml://{project}/build_features", direction="upstream")
    assert len(job.nodes) == 4  # the job, its run, the run's two inputs
    by = {(n.kind, n.key): n for n in g.nodes}
    assert by[("job_run", run_uuid)].facets["state"] == "COMPLETE"
    assert by[("job_run", run_uuid)].facets["relayml"]["pipelineRunId"] == common["run_id"]
    version = by[("dataset", f"relayml://{project}/customers")].facets["version"]
    assert version["datasetVersion"] == "3" and version["_producer"] == PRODUCER
    assert by[("job", f"relayml://{project}/build_features")].facets["jobType"]["jobType"] == (
        "PIPELINE"
    )

    failed = pipeline_run_event(
        "FAIL", **{**common, "run_id": "run-7"}, error="boom", stack_trace="Traceback ..."
    )
    assert (
        failed["run"]["runId"]
        == pipeline_run_event("START", **{**common, "run_id": "run-7"})["run"]["runId"]
    )  # the same relay run id always maps to the same UUID
    assert emit(server, failed, api_key=ADMIN_TOKEN)
    run = graph_of(api, "job_run", failed["run"]["runId"]).root
    assert run.facets["state"] == "FAIL"
    assert run.facets["errorMessage"]["message"] == "boom"


# --- the emitter against a receiver that fails on purpose -----------------------------------


class Receiver:
    """A tiny HTTP server answering each POST with the next scripted status."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                payload = b'{"error": "scripted"}' if status >= 400 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


EVENT = pipeline_run_event("START", project="p", pipeline="etl", run_id="r1", inputs=["a@1"])


def test_emit_retries_a_server_error_then_delivers(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver([500, 200]) as receiver:
        assert emit(receiver.url + "/", EVENT, api_key="k3y", backoff=0.01)
    assert [path for path, _, _ in receiver.requests] == ["/api/v1/lineage"] * 2
    _, headers, body = receiver.requests[-1]
    assert json.loads(body) == EVENT
    assert headers["Authorization"] == "Bearer k3y"
    assert headers["Content-Type"] == "application/json"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_emit_gives_up_with_a_warning_never_an_exception(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver([503] * 10) as receiver:
        assert not emit(receiver.url, EVENT, attempts=3, backoff=0.01)
    assert len(receiver.requests) == 3
    assert "OpenLineage event not delivered" in caplog.text and "HTTP 503" in caplog.text

    caplog.clear()
    with Receiver([400, 200]) as receiver:
        assert not emit(receiver.url, EVENT, backoff=0.01)
    assert len(receiver.requests) == 1  # the event itself was refused: no retry
    assert "HTTP 400" in caplog.text and "scripted" in caplog.text

    caplog.clear()
    nobody = f"http://127.0.0.1:{free_port()}"
    assert not emit(nobody, EVENT, attempts=2, backoff=0.01)
    assert "ConnectError" in caplog.text

    caplog.clear()
    assert not emit(nobody, {"eventTime": datetime.now(UTC)}, attempts=1)  # not JSON-able
    assert "OpenLineage event not delivered" in caplog.text
