"""A real `relay serve` under faults: fuzzed requests, redeploys under load, SIGKILL, workers."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import psutil
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err, Ok

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.serving import Strategy, plan_variants
from relayml.predictions import read_log
from tests.fixtures.net import loopback
from tests.fixtures.serving import ServedHome, record

FLUSH_INTERVAL = 1.0
SEED = 20240601  # fuzzing: a fixed seed, so a failure reproduces
DEADLINE = 60.0  # generous: the machine is shared, only a hang should hit it


def _wait_for(what: str, check: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Load:
    """Threads posting /predict on keep-alive clients until stopped; every answer is kept."""

    url: str
    threads: int = 4
    answers: list[tuple[float, int, Any]] = field(default_factory=list)  # (when, status, body)
    errors: list[str] = field(default_factory=list)  # transport errors before stop()
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _post(self, first: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = first
            while not self._stop.is_set():
                i += self.threads
                try:
                    response = client.post(self.url + "/predict", json=record(i))
                except httpx.TransportError as exc:
                    if not self._stop.is_set():
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                    return
                try:
                    body: Any = response.json()
                except ValueError:
                    body = response.text
                self.answers.append((time.monotonic(), response.status_code, body))

    def start(self) -> Load:
        for first in range(self.threads):
            worker = threading.Thread(target=self._post, args=(first,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=DEADLINE)
            assert not worker.is_alive(), "a load thread hung"

    def settled(self, mark: int, versions: set[int], last: int = 30) -> bool:
        """Whether the last answers, all given after mark, come from exactly these versions."""
        if len(self.answers) < mark + last:
            return False
        return set(self.versions_since(len(self.answers) - last)) == versions

    def versions_since(self, index: int) -> list[int]:
        return [
            v for _, status, body in self.answers[index:] if status == 200 for v in body["versions"]
        ]


@contextmanager
def _backend(home: ServedHome) -> Iterator[LocalBackend]:
    backend = LocalBackend(get_settings(home=home.home, user="dana"))
    try:
        yield backend
    finally:
        backend.close()


def _log_ids(home: ServedHome) -> list[str]:
    table = read_log(str(home.home / "artifacts" / "predictions"))
    return table.column("prediction_id").to_pylist() if table.num_rows else []


MODEL_FAILED = re.compile(r"^churn/\d+ failed on this input: ")


def _server_error(response: Any) -> bool:
    """A 5xx, except the documented 500 of a model that raised on a valid input (app.py).

    E.g. plan="x": the pipeline's OneHotEncoder refuses a category it never saw. That is the
    model's answer, not a fault of the server.
    """
    if response.status_code < 500:
        return False
    try:
        body = response.json()
    except ValueError:
        return True
    error = body.get("error") if isinstance(body, dict) else None
    return not (response.status_code == 500 and MODEL_FAILED.match(str(error)))


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    path: dict[str, Any] | None,
    url: str,
    session: requests.Session,
    calls: dict[str, int],
    failures: list[str],
) -> None:
    """Send up to 30 generated requests of one operation; note every 5xx and dropped connection."""
    label = f"{operation.label} ({mode.value}{', served model' if path else ''})"

    @settings(
        max_examples=30,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is kept as found
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @seed(SEED)  # the same cases on every run
    @given(case=operation.as_strategy(mode, path_parameters=path))
    def call(case: Any) -> None:
        calls[label] = calls.get(label, 0) + 1
        curl = case.as_curl_command()
        curl = curl if len(curl) < 600 else curl[:600] + "..."
        try:
            response = case.call(base_url=url, session=session, timeout=30)
        except requests.ConnectionError as exc:
            failures.append(f"{label}: connection failed: {exc}\n  {curl}")
            return
        if _server_error(response):
            failures.append(f"{label}: {response.status_code} {response.text[:300]}\n  {curl}")

    try:
        call()
    except Unsatisfiable:
        # no invalid request exists for an operation without parameters or body (GET /v2)
        if mode is GenerationMode.POSITIVE:
            raise


ODD_VALUES: list[Any] = [None, True, 0, -1, 2**64, 1.5, "", "x", [], [1], {}, {"a": 1}]


def _odd_bodies() -> list[Any]:
    """Valid bodies of each kind with one field at a time replaced by a value of another type."""
    tensor = {"name": "tenure", "shape": [1], "datatype": "INT64", "data": [3]}
    columns = [
        tensor,
        {"name": "monthly", "shape": [1], "datatype": "FP64", "data": [1.5]},
        {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["basic"]},
    ]
    matrix = {"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}
    bodies: list[Any] = []
    for value in ODD_VALUES:
        for key in tensor:
            bodies.append({"inputs": [{**tensor, key: value}, *columns[1:]]})
            bodies.append({"inputs": [{**matrix, key: value}]})
        for key in ("inputs", "id", "parameters"):
            bodies.append({"inputs": columns, key: value})
        for key in record(0):
            bodies.append({**record(0), key: value})
            bodies.append({"instances": [{**record(0), key: value}]})
        bodies.append({"instances": value})
        bodies.append({"prediction_ids": value, "values": [1]})
        bodies.append({"prediction_ids": ["0" * 24], "values": [value]})
        bodies.append(value)
    return bodies


def test_fuzzed_requests_never_get_a_server_error(
    served_home: ServedHome, start_server: Any
) -> None:
    server = start_server(served_home, ["churn/1"])
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    results = list(schema.get_all_operations())
    assert not [r.err() for r in results if isinstance(r, Err)], "the OpenAPI schema is invalid"
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 10, [op.label for op in operations]
    failures: list[str] = []
    calls: dict[str, int] = {}
    with requests.Session() as session:
        for operation in operations:
            names = {p.name for p in operation.path_parameters}
            # random names mostly get 404: the served model's name and version reach deeper too
            served = {"name": "churn", "version": 1} if names else {}
            fixed = {k: v for k, v in served.items() if k in names} or None
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, None, server.url, session, calls, failures)
                if fixed:
                    _fuzz(operation, mode, fixed, server.url, session, calls, failures)
            if operation.method.upper() == "POST":  # and hand-made type confusions, every time
                for body in _odd_bodies():
                    case = operation.Case(
                        path_parameters=fixed, body=body, media_type="application/json"
                    )
                    response = case.call(base_url=server.url, session=session, timeout=30)
                    calls["odd bodies"] = calls.get("odd bodies", 0) + 1
                    if _server_error(response):
                        failures.append(
                            f"{operation.label}: {response.status_code} {response.text[:200]}"
                            f" for {json.dumps(body)[:300]}"
                        )
    assert sum(calls.values()) >= 100, calls
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures)
    assert loopback.post(server.url + "/predict", json=record()).status_code == 200
    assert server.proc.poll() is None


def test_hot_redeploys_under_load_fail_no_request(
    served_home: ServedHome, start_server: Any
) -> None:
    with _backend(served_home) as backend:
        backend.promote("churn", "churn/1", "production")
        server = start_server(served_home, ["churn@production"], RELAY_SERVE_RELOAD_INTERVAL="0.2")
        load = Load(server.url).start()
        try:
            _wait_for(
                "answers from v1",
                lambda: set(load.versions_since(0)) == {1} and len(load.answers) > 20,
            )
            stages: list[tuple[Strategy, Any, set[int]]] = [
                ("canary", plan_variants("churn", "canary", canary="churn/2:50"), {1, 2}),
                ("ab", plan_variants("churn", "ab", ab="churn/2:50,churn/3:50"), {2, 3}),
                ("single", plan_variants("churn", "single", version=3), {3}),
            ]
            for strategy, variants, expected in stages:
                mark = len(load.answers)
                backend.deploy("churn", "churn", "production", strategy, variants)
                _wait_for(f"{strategy}: {expected} alone", partial(load.settled, mark, expected))
            tail_from = len(load.answers)  # from here on, v3 alone answers
            _wait_for("40 more answers", lambda: len(load.answers) >= tail_from + 40)
        finally:
            load.stop()
    assert not load.errors, load.errors
    failed = [(status, body) for _, status, body in load.answers if status != 200]
    assert not failed, f"{len(failed)} of {len(load.answers)} requests failed: {failed[:10]}"
    seen = set(load.versions_since(0))
    assert seen == {1, 2, 3}, seen
    assert set(load.versions_since(tail_from)) == {3}
    after = loopback.post(
        server.url + "/predict", json={"instances": [record(i) for i in range(8)]}
    )
    assert after.status_code == 200 and after.json()["versions"] == [3] * 8, after.text


def test_sigkill_loses_only_the_last_flush_interval_and_a_restart_loses_nothing(
    served_home: ServedHome, start_server: Any
) -> None:
    env = {"RELAY_PREDICTION_FLUSH_INTERVAL": str(FLUSH_INTERVAL)}
    server = start_server(served_home, ["churn/1"], **env)
    load = Load(server.url, threads=4).start()
    try:
        time.sleep(3.0)  # the load runs for ~3 s
        killed_at = time.monotonic()
        server.stop(signal.SIGKILL)
    finally:
        load.stop()
    failed = [(status, body) for _, status, body in load.answers if status != 200]
    assert not failed, failed[:10]
    logged = _log_ids(served_home)
    assert len(logged) == len(set(logged)), "a prediction is logged twice"
    in_log = set(logged)
    # docs/serving.md's bound on a busy core (a starved flush is raised half an interval late),
    # plus a margin for the write itself
    window = 1.5 * FLUSH_INTERVAL + 0.5
    age = {  # seconds between the answer and the kill, per prediction id
        pid: killed_at - when for when, _, body in load.answers for pid in body["prediction_ids"]
    }
    lost = sorted((a, pid) for pid, a in age.items() if pid not in in_log)
    lost_old = [pid for a, pid in lost if a > window]
    report = (
        f"answered {len(age)} rows, {len(in_log)} in the log after SIGKILL: lost {len(lost)}, "
        f"answered up to {lost[-1][0] if lost else 0:.2f}s before the kill"
    )
    print(report)
    assert any(a > window for a in age.values()), "the load did not run long enough"
    assert not lost_old, f"{len(lost_old)} rows answered over {window}s before the kill; {report}"

    again = start_server(served_home, ["churn/1"], **env)
    new_ids: list[str] = []
    with httpx.Client(timeout=30) as client:
        for i in range(5):
            response = client.post(
                again.url + "/predict", json={"instances": [record(i), record(i + 1)]}
            )
            assert response.status_code == 200, response.text
            new_ids += response.json()["prediction_ids"]
    assert again.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    logged = _log_ids(served_home)
    assert len(logged) == len(set(logged)), "a prediction is logged twice"
    assert set(new_ids) <= set(logged), "a clean stop lost predictions"
    assert in_log <= set(logged)


def _worker_of(children: list[psutil.Process], port: int) -> set[int]:
    """The workers holding an established connection on the server's port."""
    holding = set()
    for child in children:
        try:
            connections = child.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in connections):
            holding.add(child.pid)
    return holding


def test_two_workers_answer_like_one_and_sigterm_stops_them_all(
    served_home: ServedHome, start_server: Any
) -> None:
    records = [record(i) for i in range(24)]
    single = start_server(served_home, ["churn/1"])
    expected = loopback.post(
        single.url + "/predict", json={"instances": records}, timeout=30
    ).json()
    single.stop(signal.SIGTERM)

    server = start_server(served_home, ["churn/1"], "--workers", "2")
    parent = psutil.Process(server.proc.pid)
    _wait_for("two worker processes", lambda: len(parent.children()) == 2)
    children = parent.children()

    answers: dict[int, Any] = {}
    served_by: set[int] = set()
    ids: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def burst(offset: int) -> None:
        # fresh connections at once, held open, so both workers get to accept some
        clients = [httpx.Client(timeout=30) for _ in range(4)]
        try:
            for n, client in enumerate(clients):
                i = (offset + n) % len(records)
                response = client.post(server.url + "/predict", json=records[i])
                with lock:
                    answers.setdefault(i, []).append((response.status_code, response.text))
            holding = _worker_of(children, server.port)
            with lock:
                served_by.update(holding)
        except Exception as exc:  # reported by the test's thread
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            for client in clients:
                client.close()

    deadline = time.monotonic() + DEADLINE
    rounds = 0
    while (len(served_by) < 2 or rounds < 3) and time.monotonic() < deadline:
        threads = [threading.Thread(target=burst, args=(rounds * 32 + 4 * t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rounds += 1
    assert not errors, errors
    assert served_by == {c.pid for c in children}, (served_by, [c.pid for c in children])
    for i, got in answers.items():
        for status, text in got:
            assert status == 200, text
            body = json.loads(text)
            assert body["predictions"] == [expected["predictions"][i]], (i, body)
            # batches of other sizes may differ in the last bits (BLAS)
            assert body["probabilities"] == [pytest.approx(expected["probabilities"][i])], (i, body)
            ids += body["prediction_ids"]
    assert len(answers) == len(records)

    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    _gone, alive = psutil.wait_procs(children, timeout=DEADLINE)
    assert not alive, f"workers left running after SIGTERM: {alive}"
    logged = set(_log_ids(served_home))
    assert set(ids) <= logged, f"{len(set(ids) - logged)} predictions of the workers not logged"
