"""Schedules through their interfaces: the `relay schedules` commands, the API's permissions and
the pipelines page, and a real `relay server` whose scheduler fires an event schedule by itself
(over HTTP, its run a subprocess of the server)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from relayml.api.app import create_app
from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.identity.tokens import create_token
from relayml.identity.users import add_user
from tests.fixtures.auth import ADMIN_TOKEN, server_env
from tests.fixtures.net import free_port, stop_process, wait_for_port
from tests.fixtures.warm_cli import spawn_relay

pytestmark = pytest.mark.timeout(300)

runner = CliRunner()
FLOWS = """
import relayml as relay


@relay.step
def load(rows: int = 3) -> list:
    return list(range(rows))


@relay.pipeline
def data(rows: int = 3):
    return {"table": load(rows)}
"""


def relay(*args: str) -> Result:
    """Run `relay ARGS` in-process."""
    return runner.invoke(app, list(args))


def assert_error(result: Result, *fragments: str) -> None:
    """Exit code 1 and one 'Error: ...' line naming every fragment, without a traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store for the CLI, run from a folder that holds flows.py."""
    for name in list(os.environ):
        if name.startswith("RELAY_") or name == "COLUMNS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELAY_USER", "alice")
    monkeypatch.setenv("RELAY_PROJECT", "churn")
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "flows.py").write_text(FLOWS)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def test_the_commands_add_list_tick_show_pause_and_remove(home: Path) -> None:
    backend = LocalBackend(get_settings(home=home))
    try:
        backend.create_project("churn")
        log_dataset(backend, "churn", "customers", pd.DataFrame({"x": [1, 2]}))
        added = relay("schedules", "add", "on-data", "--pipeline", "flows:data",
                      "--on", "dataset:customers", "--param", "rows=4")  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "Schedule on-data added: runs flows:data on dataset:customers." in added.stdout
        nightly = relay("schedules", "add", "nightly", "--pipeline", "flows:data",
                        "--cron", "0 6 * * *")  # fmt: skip
        assert "at '0 6 * * *' (UTC), next" in nightly.stdout, nightly.output
        listed = relay("schedules", "list")
        assert "nightly" in listed.stdout and "dataset:customers" in listed.stdout
        assert relay("schedules", "tick").stdout.strip() == "Nothing was due."
        log_dataset(backend, "churn", "customers", pd.DataFrame({"x": [1, 3]}))
        ticked = relay("schedules", "tick", "--wait")
        assert ticked.exit_code == 0, ticked.output
        assert "dataset version customers@2 logged by alice" in ticked.stdout
        assert "finished" in ticked.stdout
        shown = relay("schedules", "show", "on-data")
        assert "finished" in shown.stdout and "customers@2" in shown.stdout
        (firing,) = backend.get_schedule("churn", "on-data").firings
        assert firing.pipeline_run is not None
        run = backend.get_pipeline_run(firing.pipeline_run)
        assert (run.params, run.created_by) == ({"rows": 4}, "alice")
        assert relay("schedules", "pause", "nightly").stdout.strip() == "Schedule nightly paused."
        assert "paused" in relay("schedules", "list").stdout
        assert relay("schedules", "resume", "nightly").exit_code == 0
        assert relay("schedules", "remove", "nightly").stdout.strip() == "Schedule nightly removed."
        assert [s.name for s in backend.list_schedules("churn")] == ["on-data"]
    finally:
        backend.close()


def test_the_commands_refuse_bad_input_in_one_line(home: Path) -> None:
    assert_error(
        relay("schedules", "add", "s", "--pipeline", "flows:data", "--cron", "61 * * * *"),
        "'61 * * * *': minute must be 0-59; e.g. '0 6 * * *' runs at 06:00 UTC daily.",
    )
    assert_error(
        relay("schedules", "add", "s", "--pipeline", "flows:nope", "--cron", "0 6 * * *"),
        "flows:nope does not exist (pipelines in flows: data).",
    )
    assert_error(
        relay("schedules", "add", "s", "--pipeline", "flows:data", "--on", "dataset:nope"),
        "project 'churn' has no dataset 'nope'",
    )
    assert_error(
        relay("schedules", "add", "s", "--pipeline", "flows:data", "--cron", "0 6 * * *",
              "--param", "depth=3"),
        "pipeline flows:data has no parameter 'depth' (it takes: rows)",
    )  # fmt: skip
    assert_error(relay("schedules", "show", "s"), "project 'churn' has no schedule 's'")
    assert relay("schedules", "list").stdout.count("│") == 0  # an empty table: no rows


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, LocalBackend]]:
    settings = get_settings(home=tmp_path / "h", user="root", monitor_interval=0)
    backend = LocalBackend(settings)
    backend.create_project("churn")
    try:
        with TestClient(create_app(backend, auth=True), raise_server_exceptions=False) as client:
            yield client, backend
    finally:
        backend.close()


def test_who_may_not_run_pipelines_may_not_schedule_them(
    site: tuple[TestClient, LocalBackend],
) -> None:
    client, backend = site
    tokens = {}
    for user, role in (("vic", "viewer"), ("dora", "data_scientist")):
        add_user(backend.store, "test", user)
        backend.add_member("churn", user, role)
        tokens[user] = {
            "Authorization": f"Bearer {create_token(backend.store, 'test', user, 't')[1]}"
        }
    body = {"name": "nightly", "pipeline": "flows:data", "cron": "0 6 * * *"}
    path = "/api/v1/projects/churn/schedules"
    refused = client.post(path, json=body, headers=tokens["vic"])
    assert refused.status_code == 403, refused.text
    assert "vic may not run pipelines" in refused.json()["error"]["message"]
    assert client.post(path + "/tick", json={}, headers=tokens["vic"]).status_code == 403
    assert backend.list_schedules("churn") == []
    added = client.post(path, json=body, headers=tokens["dora"])
    assert added.status_code == 201, added.text
    assert added.json()["created_by"] == "dora"
    assert [s["name"] for s in client.get(path, headers=tokens["vic"]).json()] == ["nightly"]
    bad = client.post(path, json={**body, "name": "again", "cron": "0 25 * * *"},
                      headers=tokens["dora"])  # fmt: skip
    assert bad.status_code == 422 and "hour must be 0-23" in bad.json()["error"]["message"]
    assert client.post("/api/v1/schedules/tick", json={}, headers=tokens["dora"]).status_code == 403
    page = client.get("/projects/churn/pipelines", headers=tokens["vic"])
    assert page.status_code == 200, page.text[:300]
    assert "Schedules" in page.text and "0 6 * * *" in page.text and "nightly" in page.text


def test_relay_server_fires_an_event_schedule_by_itself(tmp_path: Path) -> None:
    """The server's scheduler (RELAY_SCHEDULE_INTERVAL=1) fires it, once; over HTTP."""
    home = tmp_path / "server"
    port = free_port()
    env = {**os.environ, **server_env(home), "RELAY_SCHEDULE_INTERVAL": "1"}
    env["RELAY_MONITOR_INTERVAL"] = "0"
    for name in ("RELAY_SERVER_URL", "RELAY_TOKEN", "RELAY_DATABASE_URL", "RELAY_ARTIFACTS_URL"):
        env.pop(name, None)
    flows = tmp_path / "flows.py"
    flows.write_text(FLOWS)
    log = tmp_path / "server.log"
    proc = spawn_relay(["server", "--port", str(port)], env=env, cwd=Path.cwd(), stdout=log)
    settings = get_settings(
        server_url=f"http://127.0.0.1:{port}", token=ADMIN_TOKEN, home=tmp_path / "client"
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        api = HttpBackend(settings)
        api.create_project("churn")
        log_dataset(api, "churn", "customers", pd.DataFrame({"x": [1, 2]}))
        api.add_schedule("churn", "on-data", f"{flows}:data", on="dataset:customers")
        log_dataset(api, "churn", "customers", pd.DataFrame({"x": [1, 3]}))
        deadline = time.monotonic() + 120
        firings = []
        while time.monotonic() < deadline:
            firings = api.get_schedule("churn", "on-data").firings
            if firings and firings[0].status in ("finished", "failed"):
                break
            time.sleep(0.5)
        assert len(firings) == 1, (tmp_path / "server.log").read_text()[-3000:]
        assert firings[0].status == "finished", firings[0]
        assert firings[0].pipeline_run is not None
        run = api.get_pipeline_run(firings[0].pipeline_run)
        assert run.status == "FINISHED" and run.created_by == "alice"
        time.sleep(2)  # two more ticks of the server: nothing new happened, nothing fires
        assert len(api.get_schedule("churn", "on-data").firings) == 1
        assert api.pause_schedule("churn", "on-data").enabled is False
        assert api.resume_schedule("churn", "on-data").enabled is True
        assert api.tick_schedules("churn", wait=True) == []
        assert api.remove_schedule("churn", "on-data").name == "on-data"
        assert api.list_schedules("churn") == []
        api.close()
    finally:
        stop_process(proc)
