"""What the model server logs for each answered row, column by column, whatever the shape of the
requests and however they fall into the log's flushes.

The server hands the log one cheap item per batch and the writer's thread builds the columns of
many batches at once; these tests hold the rows read back to what each request was answered
(ids, values, probabilities, versions, keys, inputs, times), the files' schema to the log's, and
check that nothing queued is lost when the server closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from relayml.backend import LocalBackend, prediction_logs
from relayml.config import Settings
from relayml.predictions.ids import moment_of
from relayml.serve.runner import ModelServer
from relayml.serving.service import UNSERVED
from tests.fixtures.serving import ServedHome, build_float_home, record

CHURN_SCHEMA = [
    ("timestamp", pa.int64()),
    ("prediction_id", pa.string()),
    ("model", pa.string()),
    ("version", pa.int64()),
    ("variant", pa.string()),
    ("mode", pa.string()),
    ("latency_ms", pa.float64()),
    ("prediction", pa.int64()),
    ("probabilities", pa.list_(pa.float64())),
    ("score", pa.float64()),
    ("input.tenure", pa.int64()),
    ("input.monthly", pa.float64()),
    ("input.plan", pa.string()),
]
KEYED_SCHEMA = [*CHURN_SCHEMA[:8], ("request_key", pa.string()), *CHURN_SCHEMA[8:]]


def _serve(home: Path, project: str, ref: str) -> tuple[ModelServer, Settings]:
    """A server of `ref` with its logs, in this process."""
    # no timed flush during a test: each test says when the log writes
    settings = Settings(home=home, user="dana", prediction_flush_interval=3600)
    server = ModelServer(settings, LocalBackend(settings), project, [ref])
    server.runtime.load()
    return server, settings


def _v2(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "tenure", "shape": [len(rows)], "datatype": "INT64",
             "data": [r["tenure"] for r in rows]},
            {"name": "monthly", "shape": [len(rows)], "datatype": "FP64",
             "data": [r["monthly"] for r in rows]},
            {"name": "plan", "shape": [len(rows)], "datatype": "BYTES",
             "data": [r["plan"] for r in rows]},
        ]
    }  # fmt: skip


class Sent:
    """The rows each answered request should have logged, by prediction id."""

    def __init__(self, project: str = "churn") -> None:
        self.project = project
        self.rows: dict[str, dict[str, Any]] = {}

    def predict(self, client: TestClient, rows: list[dict[str, Any]], key: str | None) -> None:
        body: Any = rows[0] if len(rows) == 1 else {"instances": rows}
        headers = {"X-Relay-Key": key} if key is not None else {}
        answer = client.post("/predict", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        got = answer.json()
        self._note(rows, key, got["prediction_ids"], got["predictions"], got["probabilities"])

    def infer(self, client: TestClient, rows: list[dict[str, Any]]) -> None:
        answer = client.post("/v2/models/churn/infer", json=_v2(rows))
        assert answer.status_code == 200, answer.text
        got = answer.json()
        outputs = {o["name"]: o["data"] for o in got["outputs"]}
        values = got["outputs"][0]["data"]  # the model's output, then the probabilities
        width = len(outputs["probabilities"]) // len(rows)
        proba = [outputs["probabilities"][i * width : (i + 1) * width] for i in range(len(rows))]
        ids = got["parameters"]["prediction_ids"]
        self._note(rows, None, ids, values, proba)

    def _note(
        self,
        rows: list[dict[str, Any]],
        key: str | None,
        ids: list[str],
        values: list[Any],
        proba: list[list[float]],
    ) -> None:
        assert len(ids) == len(values) == len(proba) == len(rows)
        for row, pid, value, p in zip(rows, ids, values, proba, strict=True):
            self.rows[pid] = {
                "timestamp": int(moment_of(pid).timestamp() * 1000),
                "prediction_id": pid,
                "model": "churn",
                "version": 2,
                "variant": "v2",
                "mode": "live",
                "prediction": value,
                "probabilities": p,
                "score": p[1],
                "request_key": key,
                "input.tenure": row["tenure"],
                "input.monthly": float(row["monthly"]),
                "input.plan": row["plan"],
            }

    def check(self, table: pa.Table) -> None:
        logged = table.to_pylist()
        assert len(logged) == len(self.rows)  # each answered row once, nothing else
        for row in logged:
            latency = row.pop("latency_ms")
            assert latency > 0
            partition = (row.pop("project"), row.pop("deployment"), row.pop("date"))
            day = moment_of(row["prediction_id"]).date().isoformat()
            assert partition[0] == self.project and partition[2] == day
            row.setdefault("request_key", None)
            assert row == self.rows[row["prediction_id"]]


def _files(home: Path) -> list[Path]:
    return sorted((home / "artifacts" / "predictions").rglob("*.parquet"))


def _schema(path: Path) -> list[tuple[str, pa.DataType]]:
    return [(f.name, f.type) for f in pq.read_schema(path)]


@pytest.fixture
def churn(served_home: ServedHome) -> Iterator[tuple[TestClient, ModelServer, Settings]]:
    server, settings = _serve(served_home.home, "churn", "churn/2")
    try:
        yield TestClient(server.app), server, settings
    finally:
        server.close()


def test_rows_of_many_requests_in_one_flush_read_back_as_answered(
    churn: tuple[TestClient, ModelServer, Settings], served_home: ServedHome
) -> None:
    client, server, settings = churn
    sent = Sent()
    for i in range(60):  # single records, batches, V2 tensors: one flush builds them all
        if i % 10 == 3:
            sent.predict(client, [record(i + j) for j in range(3)], None)
        elif i % 10 == 7:
            sent.infer(client, [record(i), record(i + 1)])
        else:
            sent.predict(client, [record(i)], None)
    assert server.predictions is not None
    server.predictions.flush()
    files = _files(served_home.home)
    assert len(files) == 1  # one day, one flush: one file
    assert _schema(files[0]) == CHURN_SCHEMA
    sent.check(prediction_logs(settings).read("predictions", "churn"))


def test_keyed_and_plain_requests_flushed_together_or_alone_read_the_same(
    churn: tuple[TestClient, ModelServer, Settings], served_home: ServedHome
) -> None:
    client, server, settings = churn
    log = server.predictions
    assert log is not None
    sent = Sent()
    for i in range(12):  # keyed and plain requests queued together, then one flush
        sent.predict(client, [record(i)] * (1 + i % 2), f"user-{i}" if i % 3 == 0 else None)
    log.flush()
    together = _files(served_home.home)
    assert len(together) == 1 and _schema(together[0]) == KEYED_SCHEMA  # keys null where none
    for i in range(12, 18):  # the same shapes, each request written alone: one file each
        keyed = i % 3 == 0
        before = set(_files(served_home.home))
        sent.predict(client, [record(i)] * (1 + i % 2), f"user-{i}" if keyed else None)
        log.flush()
        (alone,) = set(_files(served_home.home)) - before
        assert _schema(alone) == (KEYED_SCHEMA if keyed else CHURN_SCHEMA)
    keys = pq.read_table(together[0]).column("request_key").to_pylist()
    assert keys.count(None) == sum(1 + i % 2 for i in range(12) if i % 3)
    sent.check(prediction_logs(settings).read("predictions", "churn"))


def test_close_writes_every_queued_row(served_home: ServedHome) -> None:
    server, settings = _serve(served_home.home, "churn", "churn/2")
    client = TestClient(server.app)
    sent = Sent()
    for i in range(25):
        sent.predict(client, [record(i)], None)
    server.close()  # no flush before: close writes what is queued
    sent.check(prediction_logs(settings).read("predictions", "churn"))
    requests = prediction_logs(settings).read("requests", "churn")
    assert requests.num_rows == 25
    assert set(requests.column("route").to_pylist()) == {"/predict"}
    assert set(requests.column("status").to_pylist()) == {200}
    assert min(requests.column("ms").to_pylist()) > 0
    (file,) = (served_home.home / "artifacts" / "requests").rglob("*.parquet")
    assert _schema(file) == [
        ("timestamp", pa.int64()), ("route", pa.string()), ("status", pa.int64()),
        ("ms", pa.float64()),
    ]  # fmt: skip


def test_requests_for_models_not_served_share_one_partition(served_home: ServedHome) -> None:
    server, settings = _serve(served_home.home, "churn", "churn/2")
    client = TestClient(server.app)
    tensor = _v2([record(0)])
    for i in range(40):  # a caller trying one name after another
        assert client.post(f"/v2/models/nope-{i}/infer", json=tensor).status_code == 404
    assert client.post("/v2/models/churn/infer", json=tensor).status_code == 200
    server.close()
    files = (served_home.home / "artifacts" / "requests").rglob("*.parquet")
    folders = {path.parent.parent.name for path in files}
    assert folders == {f"deployment={churn_partition(server)}", f"deployment={UNSERVED}"}
    logs = prediction_logs(settings)
    unserved = logs.read("requests", "churn", UNSERVED)
    assert unserved.num_rows == 40
    assert set(unserved.column("status").to_pylist()) == {404}
    assert set(unserved.column("route").to_pylist()) == {"/v2/models/{name}/infer"}


def churn_partition(server: ModelServer) -> str:
    return server.runtime.models["churn"].partition


def test_an_all_float_model_logs_its_matrix_rows_column_by_column(tmp_path: Path) -> None:
    columns = ["a", "b", "c"]
    build_float_home(tmp_path / "home")
    server, settings = _serve(tmp_path / "home", "nums", "nums/1")
    client = TestClient(server.app)
    sent: list[tuple[list[float], str]] = []
    for i in range(30):  # one record per request, and now and then a batch of two
        rows = [[i * 0.5, -i / 3, float(i % 4)]] + ([[1.5, i * 0.25, -2.0]] if i % 5 == 0 else [])
        body: Any = {"instances": [dict(zip(columns, r, strict=True)) for r in rows]}
        answer = client.post("/predict", json=body)
        assert answer.status_code == 200, answer.text
        sent += list(zip(rows, answer.json()["prediction_ids"], strict=True))
    server.close()
    logged = prediction_logs(settings).read("predictions", "nums")
    by_id = {r["prediction_id"]: r for r in logged.to_pylist()}
    assert len(by_id) == logged.num_rows == len(sent)
    for row, pid in sent:
        assert [by_id[pid][f"input.{c}"] for c in columns] == row
    assert [logged.schema.field(f"input.{c}").type for c in columns] == [pa.float64()] * 3


def test_concurrent_requests_batched_together_log_each_row_as_answered(tmp_path: Path) -> None:
    # requests the event loop reads together are predicted as one batch of several requests,
    # whose rows are written into the log's columns with each request's own time and latency
    import asyncio

    import httpx

    columns = ["a", "b", "c"]
    build_float_home(tmp_path / "home")
    server, settings = _serve(tmp_path / "home", "nums", "nums/1")
    variant = server.runtime.models["nums"].live[0]
    batches: list[int] = []  # requests per logged batch, seen on the way (the real _log runs)
    real_log = variant._log
    variant._log = lambda c, batch, *a: (batches.append(len(batch)), real_log(c, batch, *a))[1]  # type: ignore[method-assign]
    sent: list[tuple[list[float], str, int]] = []
    requests: list[list[str]] = []  # each request's prediction ids

    async def send_all() -> None:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            bodies = [
                {"instances": [{c: float(i * 3 + k + j) for k, c in enumerate(columns)}
                               for j in range(1 + i % 2)]}
                for i in range(40)
            ]  # fmt: skip
            answers = await asyncio.gather(*(client.post("/predict", json=b) for b in bodies))
        for body, answer in zip(bodies, answers, strict=True):
            assert answer.status_code == 200, answer.text
            got = answer.json()
            for row, pid, value in zip(
                body["instances"], got["prediction_ids"], got["predictions"], strict=True
            ):
                sent.append(([row[c] for c in columns], pid, value))
            requests.append(got["prediction_ids"])

    asyncio.run(send_all())
    server.close()
    assert max(batches) > 1, "no batch of several requests: the test lost its point"
    logged = prediction_logs(settings).read("predictions", "nums")
    by_id = {r["prediction_id"]: r for r in logged.to_pylist()}
    assert len(by_id) == logged.num_rows == len(sent) == 60
    for row, pid, value in sent:
        assert [by_id[pid][f"input.{c}"] for c in columns] == row
        assert by_id[pid]["prediction"] == value and by_id[pid]["latency_ms"] > 0
        assert by_id[pid]["timestamp"] == int(moment_of(pid).timestamp() * 1000)
    for ids in requests:  # a request's rows carry its own latency, each of them
        assert len({by_id[pid]["latency_ms"] for pid in ids}) == 1


DECISIONS = """
hit_policy: first
default: none
rules:
  - name: call
    when: {score: ">= 0.5"}
    action: call
  - name: nudge
    when: {score: ">= 0.3"}
    action: email
"""


def test_decisions_of_many_requests_are_logged_with_their_rule_and_revision(
    served_home: ServedHome,
) -> None:
    settings = Settings(home=served_home.home, user="dana")
    backend = LocalBackend(settings)
    backend.set_decision_table("churn", "churn", DECISIONS)
    backend.close()
    server, settings = _serve(served_home.home, "churn", "churn/2")
    client = TestClient(server.app)
    expected: dict[str, tuple[str, int]] = {}
    for i in range(40):
        rows = [record(i * 7 + j) for j in range(1 + i % 3)]
        answer = client.post("/predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        for pid, proba, action in zip(
            body["prediction_ids"], body["probabilities"], body["decisions"], strict=True
        ):
            rule = 0 if proba[1] >= 0.5 else 1 if proba[1] >= 0.3 else -1
            assert action == ["call", "email", "none"][rule]
            expected[pid] = (action, rule)
    server.close()
    logged = prediction_logs(settings).read("predictions", "churn")
    got = {
        r["prediction_id"]: (r["decision"], r["decision_rule"])
        for r in logged.to_pylist()
        if r["decision_revision"] == 1
    }
    assert got == expected and logged.num_rows == len(expected)
    assert len({rule for _, rule in expected.values()}) > 1, "the rows should reach two rules"
    schema = logged.schema
    assert [schema.field(n).type for n in ("decision", "decision_rule", "decision_revision")] == [
        pa.string(),
        pa.int64(),
        pa.int64(),
    ]
