"""`relay serve --replay`: past traffic logged at the time each request says, into its windows."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from relayml.predictions import read_log
from relayml.predictions.ids import moment_of
from tests.fixtures.net import loopback
from tests.fixtures.serving import ServedHome, record


def _post(url: str, body: Any, **headers: str) -> httpx.Response:
    return loopback.post(url, json=body, headers=headers, timeout=10)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_replayed_requests_are_logged_and_named_at_their_own_time(
    served_home: ServedHome, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/2"], "--replay")
    monday = _ms("2026-01-05T09:30:00")
    answers = {
        monday: _post(
            server.url + "/predict",
            {"instances": [record(i) for i in range(3)]},
            **{"X-Relay-Time": "2026-01-05T09:30:00Z"},
        ),
        monday + 86_400_000: _post(  # epoch ms, and through the V2 route
            server.url + "/v2/models/churn/infer",
            {
                "inputs": [
                    {"name": "tenure", "shape": [1], "datatype": "INT64", "data": [3]},
                    {"name": "monthly", "shape": [1], "datatype": "FP64", "data": [80.0]},
                    {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["basic"]},
                ]
            },
            **{"X-Relay-Time": str(monday + 86_400_000)},
        ),
    }
    before = time.time_ns() // 1_000_000
    live = _post(server.url + "/predict", record(7))  # no header: logged now, as ever
    for answer in (*answers.values(), live):
        assert answer.status_code == 200, answer.text
    ids = {
        monday: answers[monday].json()["prediction_ids"],
        monday + 86_400_000: answers[monday + 86_400_000].json()["parameters"]["prediction_ids"],
    }
    for at, named in ids.items():  # a replayed id tells the replayed time, as a live one does
        assert {int(moment_of(i).timestamp() * 1000) for i in named} == {at}
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    rows = read_log(str(served_home.home / "artifacts" / "predictions")).to_pylist()
    by_id = {row["prediction_id"]: row for row in rows}
    for at, named in ids.items():
        assert [by_id[i]["timestamp"] for i in named] == [at] * len(named)
    assert by_id[live.json()["prediction_ids"][0]]["timestamp"] >= before
    files = sorted((served_home.home / "artifacts" / "predictions").rglob("*.parquet"))
    days = {part.split("=", 1)[1] for f in files for part in f.parts if part.startswith("date=")}
    assert {"2026-01-05", "2026-01-06"} <= days  # each replayed day in its own partition


def test_the_time_header_is_refused_unless_replaying_and_checked_when_replaying(
    served_home: ServedHome, start_server: Any
) -> None:
    live = start_server(served_home, ["churn/2"])
    refused = _post(live.url + "/predict", record(1), **{"X-Relay-Time": "2026-01-05T09:30:00Z"})
    assert refused.status_code == 422 and "--replay" in refused.json()["error"]
    replaying = start_server(served_home, ["churn/2"], "--replay")
    for bad, words in (
        ("last tuesday", "is not a time"),
        ("2999-01-01T00:00:00Z", "the future has not happened yet"),
        ("-5", "from 1970-01-01"),
    ):
        answer = _post(replaying.url + "/predict", record(1), **{"X-Relay-Time": bad})
        assert answer.status_code == 422 and words in answer.json()["error"], answer.text
