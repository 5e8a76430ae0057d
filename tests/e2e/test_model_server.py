"""A real `relay serve` process: the V2 protocol, /predict, errors, metrics, logs."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from relayml.predictions import read_log
from tests.fixtures.net import loopback
from tests.fixtures.serving import ServedHome, record


def _post(url: str, body: Any) -> httpx.Response:
    return loopback.post(url, json=body, timeout=10)


def test_predict_answers_records_with_ids_and_probabilities(
    served_home: ServedHome, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/2"])
    one = _post(server.url + "/predict", record(0))
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["predictions"] in ([0], [1]) and body["versions"] == [2]
    assert len(body["prediction_ids"]) == 1 and len(body["prediction_ids"][0]) == 24
    assert abs(sum(body["probabilities"][0]) - 1) < 1e-9
    many = _post(server.url + "/predict", {"instances": [record(i) for i in range(5)]}).json()
    assert len(many["predictions"]) == 5 and len(set(many["prediction_ids"])) == 5

    from relayml.backend import LocalBackend
    from relayml.config import get_settings
    from relayml.models.publish import load_model

    backend = LocalBackend(get_settings(home=served_home.home))
    frame = __import__("pandas").DataFrame([record(i) for i in range(5)])
    expected = load_model(backend, "churn", "churn/2").predict(frame).tolist()
    backend.close()
    assert many["predictions"] == expected


def test_v2_protocol_metadata_infer_and_health(served_home: ServedHome, start_server: Any) -> None:
    server = start_server(served_home, ["churn/1"])
    assert loopback.get(server.url + "/v2/health/live").json() == {"live": True}
    assert loopback.get(server.url + "/v2/health/ready").json() == {"ready": True}
    assert loopback.get(server.url + "/v2").json()["name"] == "relayml"
    meta = loopback.get(server.url + "/v2/models/churn").json()
    assert [i["name"] for i in meta["inputs"]] == ["tenure", "monthly", "plan"]
    assert {i["datatype"] for i in meta["inputs"]} == {"INT64", "FP64", "BYTES"}
    assert meta["outputs"][-1]["name"] == "probabilities"
    assert loopback.get(server.url + "/v2/models/churn/versions/1").status_code == 200
    assert loopback.get(server.url + "/v2/models/churn/ready").json()["ready"] is True
    inputs = [
        {"name": "tenure", "shape": [2], "datatype": "INT64", "data": [3, 40]},
        {"name": "monthly", "shape": [2, 1], "datatype": "FP64", "data": [[80.0], [20.0]]},
        {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic", "pro"]},
    ]
    answer = _post(server.url + "/v2/models/churn/infer", {"id": "r1", "inputs": inputs})
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["id"] == "r1" and out["model_name"] == "churn" and out["model_version"] == "1"
    assert out["outputs"][0]["shape"] == [2] and len(out["outputs"][0]["data"]) == 2
    assert out["outputs"][1]["shape"] == [2, 2]
    assert len(out["parameters"]["prediction_ids"]) == 2
    same = _post(server.url + "/v2/models/churn/versions/1/infer", {"inputs": inputs}).json()
    assert same["outputs"][0]["data"] == out["outputs"][0]["data"]
    assert (
        _post(server.url + "/v2/models/churn/versions/9/infer", {"inputs": inputs}).status_code
        == 404
    )
    assert loopback.get(server.url + "/v2/models/nope").status_code == 404


def test_bad_requests_get_clear_4xx_never_5xx(served_home: ServedHome, start_server: Any) -> None:
    server = start_server(served_home, ["churn/1"], env_unused="1")
    url = server.url + "/predict"
    cases: list[tuple[Any, int, str]] = [
        ({"tenure": "three", "monthly": 1.0, "plan": "basic"}, 422, "column 'tenure', row 0"),
        ({"tenure": 3, "monthly": 1.0}, 422, "missing plan"),
        ({**record(), "extra": 1}, 422, "unexpected extra"),
        ({"instances": []}, 422, "empty"),
        ({"instances": [record(), 5]}, 422, "row 1"),
        ({"tenure": 3, "monthly": None, "plan": "basic"}, 422, "null"),
        ({"tenure": 2**70, "monthly": 1.0, "plan": "basic"}, 422, "int64"),
        ({"tenure": True, "monthly": 1.0, "plan": "basic"}, 422, "tenure"),
        ([1, 2, 3], 422, "the body is an array"),
    ]
    for body, status, words in cases:
        answer = _post(url, body)
        assert answer.status_code == status, (body, answer.text)
        assert words in answer.json()["error"], (body, answer.json())
    not_json = loopback.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]
    empty = loopback.post(url, content=b"")
    assert empty.status_code == 400
    huge = loopback.post(url, content=b"[" + b"1," * 6_000_000 + b"1]")
    assert huge.status_code == 413 and "limit" in huge.json()["error"]
    tensor = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}
    bad_v2 = _post(server.url + "/v2/models/churn/infer", tensor)
    assert bad_v2.status_code == 422 and "[rows, 3]" in bad_v2.json()["error"]
    assert _post(url, record()).status_code == 200  # still serving after all that


def test_metrics_access_log_and_graceful_shutdown_flush_the_log(
    served_home: ServedHome, start_server: Any
) -> None:
    server = start_server(
        served_home, ["churn/2"], RELAY_PREDICTION_FLUSH_INTERVAL="30"
    )  # nothing flushes by time during the test: only the shutdown can
    ids = []
    for i in range(40):
        ids += _post(server.url + "/predict", record(i)).json()["prediction_ids"]
    _post(server.url + "/predict", {"tenure": "x"})  # refused: a value of the wrong type
    assert _post(server.url + "/predict", {"instances": []}).status_code == 422  # no rows
    assert _post(server.url + "/v2/models/churn/infer", {"id": "x"}).status_code == 422
    assert _post(server.url + "/v2/models/nope/infer", {"id": "x"}).status_code == 404
    metrics = loopback.get(server.url + "/metrics").text
    assert 'relay_predictions_total{mode="live",model="churn",variant="v2"} 40.0' in metrics
    assert 'relay_http_requests_total{route="/predict",status="422"} 2.0' in metrics
    assert 'relay_rejected_requests_total{model="churn"} 3.0' in metrics  # not the 404
    assert "relay_batch_rows_bucket" in metrics and "relay_ready 1.0" in metrics
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)  # uvicorn re-raises it when done
    lines = [json.loads(x) for x in server.output().splitlines() if x.startswith('{"ts"')]
    access = [x for x in lines if x.get("path") == "/predict"]
    assert len(access) == 42 and {x["status"] for x in access} == {200, 422}
    table = read_log(str(served_home.home / "artifacts" / "predictions"))
    assert sorted(table.column("prediction_id").to_pylist()) == sorted(ids)
    assert set(table.column("deployment").to_pylist()) == {"churn-v2"}
    assert {"input.tenure", "input.plan", "prediction", "score", "latency_ms"} <= set(
        table.column_names
    )
    files = list((served_home.home / "artifacts" / "predictions").rglob("*.parquet"))
    assert files and all("project=churn/deployment=churn-v2/date=" in str(f) for f in files)
    assert pq.read_metadata(files[0]).num_rows >= 1


def test_outcomes_are_stored_and_bad_ones_refused(
    served_home: ServedHome, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/1"])
    ids = _post(server.url + "/predict", {"instances": [record(1), record(2)]}).json()[
        "prediction_ids"
    ]
    url = server.url + "/v2/models/churn/outcomes"
    assert _post(url, {"prediction_ids": ids, "values": [1, 0]}).json() == {"accepted": 2}
    assert "one value per id" in _post(url, {"prediction_ids": ids, "values": [1]}).json()["error"]
    assert (
        "not a prediction id"
        in _post(url, {"prediction_ids": ["x"], "values": [1]}).json()["error"]
    )
    server.stop(signal.SIGTERM)
    outcomes = read_log(str(served_home.home / "artifacts" / "outcomes")).to_pylist()
    assert sorted((o["prediction_id"], o["label"]) for o in outcomes) == sorted(
        zip(ids, ["1", "0"], strict=True)
    )


def test_sdk_log_outcomes_is_durable_on_return(served_home: ServedHome) -> None:
    import relayml as relay

    relay.init(project="churn", home=served_home.home)
    ids = ["0" * 12 + "a" * 12, "0" * 12 + "b" * 12]
    assert relay.log_outcomes(ids, [True, 0.5]) == 2
    rows = read_log(str(served_home.home / "artifacts" / "outcomes")).to_pylist()
    assert {(r["label"], r["value"], r["source"]) for r in rows} == {
        ("true", 1.0, "sdk"),
        ("0.5", 0.5, "sdk"),
    }
    time.sleep(0)


def test_one_scrape_sees_every_worker(
    served_home: ServedHome, start_server: Any, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    server = start_server(served_home, ["churn/2"], "--workers", "2", TMPDIR=str(scratch))
    (folder,) = scratch.glob("relay-metrics-*")  # the runner's multiprocess folder
    for i in range(60):  # a new connection each: the kernel spreads them over the workers
        assert _post(server.url + "/predict", record(i)).status_code == 200
    for _ in range(5):  # whichever worker answers the scrape, it counts all of them
        metrics = loopback.get(server.url + "/metrics").text
        assert 'relay_predictions_total{mode="live",model="churn",variant="v2"} 60.0' in metrics
        assert "relay_ready 1.0" in metrics
    pids = {p.stem.rsplit("_", 1)[-1] for p in folder.glob("counter_*.db")}
    assert len(pids) == 2, "each worker writes its own file"
    server.stop(signal.SIGTERM)
    assert not folder.exists(), "the runner removes its folder when it stops"
    # both workers wrote their access lines in bulk to the same stderr: each line whole
    lines = [json.loads(x) for x in server.output().splitlines() if x.startswith('{"ts"')]
    assert sum(x.get("path") == "/predict" for x in lines) == 60
