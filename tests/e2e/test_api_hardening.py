"""Hardening of tracking (issue #11): out-of-range times and steps, bounded reads, clean 404s.

Each test names the fault it pins; bad input must be refused with the error shape and must never
leave a stored row that breaks a later read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from relayml.api.app import MAX_JSON_BODY
from relayml.api.routes import MAX_HISTORY_PAGE
from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings
from relayml.domain.ports import Backend
from relayml.domain.validation import MAX_TIME_MS
from relayml.errors import InvalidInput
from relayml.store.schema import runs
from tests.fixtures.auth import ADMIN_TOKEN

runner = CliRunner()
HUGE_TIMES = [99999999999999999, -(10**18), MAX_TIME_MS + 1, -1]


@pytest.fixture
def http(relay_server: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # the server has auth on
    with httpx.Client(base_url=relay_server + "/api/v1", timeout=30, headers=headers) as client:
        yield client


@pytest.fixture
def api_project(http: httpx.Client) -> str:
    name = f"h-{uuid.uuid4().hex[:10]}"
    assert http.post("/projects", json={"name": name}).status_code == 201
    return name


def _is_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    for word in words:
        assert word in body["error"]["message"], body


# 1. an out-of-range run time


@pytest.mark.parametrize("start_time", HUGE_TIMES)
def test_an_out_of_range_start_time_is_refused_and_breaks_no_search(
    backend: Backend, project: str, start_time: int
) -> None:
    with pytest.raises(InvalidInput, match="start_time"):
        backend.create_run(project, "e", start_time=start_time)
    run = backend.create_run(project, "e", start_time=1_700_000_000_000)
    assert [r.id for r in backend.search_runs(project).runs] == [run.id]
    with pytest.raises(InvalidInput, match="end_time"):
        backend.end_run(run.id, "FINISHED", end_time=start_time)
    assert backend.get_run(run.id).status == "RUNNING"


@pytest.mark.parametrize("start_time", [99999999999999999, -(10**18)])
def test_the_api_answers_422_for_an_out_of_range_time(
    http: httpx.Client, api_project: str, start_time: int
) -> None:
    response = http.post(f"/projects/{api_project}/runs", json={"start_time": start_time})
    _is_error(response, 422, "start_time", "9999")
    search = http.post(f"/projects/{api_project}/runs/search", json={})
    assert search.status_code == 200 and search.json()["runs"] == []


def test_a_stored_out_of_range_time_breaks_no_read(tmp_path: Path) -> None:
    """Rows written before the check (or by hand) still read: the conversion is total."""
    home = tmp_path / "home"
    backend = LocalBackend(get_settings(home=home, user="alice"))
    backend.create_project("p")
    run = backend.create_run("p", "e")
    with backend.store.write() as conn:
        conn.execute(update(runs).where(runs.c.id == run.id).values(start_time=99999999999999999))
    broken = backend.create_run("p", "e")
    with backend.store.write() as conn:
        conn.execute(update(runs).where(runs.c.id == broken.id).values(start_time=-(10**18)))
    found = {r.id: r for r in backend.search_runs("p").runs}
    assert set(found) == {run.id, broken.id}
    assert found[run.id].start_time.year == 9999
    assert found[broken.id].start_time.year == 1970
    assert backend.get_run(run.id).id == run.id
    backend.close()
    result = runner.invoke(app, ["runs", "list", "-p", "p"], env={"RELAY_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert run.id in result.stdout and "Traceback" not in result.output


# 2. a metric step past 64 bits


@pytest.mark.parametrize("step", [2**63, -(2**63) - 1, 2**64])
def test_the_api_refuses_a_step_past_64_bits_in_the_error_shape(
    http: httpx.Client, api_project: str, step: int
) -> None:
    run = http.post(f"/projects/{api_project}/runs", json={}).json()
    assert http.post(f"/runs/{run['id']}/metrics", json={"points": [["a", 1, 0, 1]]}).is_success
    response = http.post(
        f"/runs/{run['id']}/metrics", json={"points": [["a", 2, 1, 2], ["b", 1, step, 1]]}
    )
    _is_error(response, 422, "'b'", "64-bit")
    assert http.get(f"/runs/{run['id']}").json()["metrics"] == {"a": 1.0}
    assert http.get(f"/runs/{run['id']}/metrics/a").status_code == 200


# 3. bounded bodies and reads


def test_a_json_body_over_the_cap_gets_413_before_it_is_parsed(
    http: httpx.Client, api_project: str
) -> None:
    big = b'{"filter": "' + b"x" * MAX_JSON_BODY + b'"}'
    response = http.post(
        f"/projects/{api_project}/runs/search",
        content=big,
        headers={"content-type": "application/json"},
    )
    _is_error(response, 413, str(MAX_JSON_BODY))

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(50):
            yield b" " * (1024 * 1024)

    response = http.post(
        f"/projects/{api_project}/runs",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    _is_error(response, 413, str(MAX_JSON_BODY))
    assert http.post(f"/projects/{api_project}/runs", json={}).status_code == 201


def test_audit_reads_are_bounded_and_paged(
    http: httpx.Client, api_project: str, tmp_path: Path
) -> None:
    _is_error(http.get("/audit", params={"limit": 10**12}), 422, "limit")
    for i in range(5):
        http.post(f"/projects/{api_project}/experiments", json={"name": f"e{i}"})
    seen: list[int] = []
    before = None
    while len(seen) < 6:
        params = (
            {"limit": 2, "entity_id": None} if before is None else {"limit": 2, "before": before}
        )
        page = http.get("/audit", params={k: v for k, v in params.items() if v is not None}).json()
        assert len(page) == 2 and all(e["id"] < (before or 2**62) for e in page)
        seen += [e["id"] for e in page]
        before = page[-1]["id"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 6
    result = runner.invoke(
        app, ["audit", "-n", str(10**12)], env={"RELAY_HOME": str(tmp_path / "h")}
    )
    assert result.exit_code == 2 and "10000" in result.output


def test_metric_history_is_paged_over_http(http: httpx.Client, api_project: str) -> None:
    run = http.post(f"/projects/{api_project}/runs", json={}).json()
    points = [["loss", float(i), i, 1_700_000_000_000 + i] for i in range(25)]
    assert http.post(f"/runs/{run['id']}/metrics", json={"points": points}).is_success
    url = f"/runs/{run['id']}/metrics/loss"
    _is_error(http.get(url, params={"max_results": 10**9}), 422, "max_results")
    steps: list[int] = []
    offset: str | None = "0"
    while offset is not None:
        response = http.get(url, params={"max_results": 10, "offset": offset})
        assert response.status_code == 200 and len(response.json()) <= 10
        steps += [p["step"] for p in response.json()]
        offset = response.headers.get("x-relay-next-offset")
    assert steps == list(range(25))
    assert [p["step"] for p in http.get(url, params={"limit": 3}).json()] == [0, 1, 2]


def test_a_long_metric_history_reads_back_whole(backend: Backend, project: str) -> None:
    run = backend.create_run(project, "e")
    count = MAX_HISTORY_PAGE + 7
    backend.log_metrics(run.id, [("x", float(i), i, 1_700_000_000_000) for i in range(count)])
    history = backend.get_metric_history(run.id, "x")
    assert [p.step for p in history] == list(range(count))


# 5. an artifact whose blob is gone


def test_an_artifact_missing_from_the_store_is_a_clean_404(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from relayml.api.app import create_app

    backend = LocalBackend(get_settings(home=tmp_path / "home", user="alice"))
    backend.create_project("p")
    run = backend.create_run("p", "e")
    source = tmp_path / "model.txt"
    source.write_text("weights")
    artifact = backend.log_artifact(run.id, "model.txt", source)
    Path(backend.blobs.path_of(artifact.sha256)).unlink()
    # about a missing blob, not sign-in: the app without auth (the local user)
    with TestClient(create_app(backend, auth=False), raise_server_exceptions=False) as client:
        response = client.get(f"/api/v1/runs/{run.id}/artifacts/model.txt")
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "NOT_FOUND"
        assert artifact.sha256 in response.json()["error"]["message"]
        assert client.get(f"/api/v1/runs/{run.id}/artifacts").status_code == 200


def test_the_json_body_cap_is_a_setting(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from relayml.api.app import create_app
    from relayml.backend import LocalBackend
    from relayml.config import get_settings

    settings = get_settings(home=tmp_path / "home", api_max_body_bytes=4096)
    assert settings.api_max_body_bytes == 4096
    assert get_settings(home=tmp_path / "home").api_max_body_bytes == MAX_JSON_BODY
    # about the body limit, not sign-in: the app without auth (the local user)
    with TestClient(create_app(LocalBackend(settings), auth=False)) as client:
        response = client.post(
            "/api/v1/projects", content=b" " * 5000, headers={"content-type": "application/json"}
        )
        _is_error(response, 413, "4096")
        assert client.post("/api/v1/projects", json={"name": "small"}).status_code == 201
