"""The `relay` command line: every command in-process (CliRunner), and `relay server` for real."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from relayml.backend import LocalBackend
from relayml.cli import app
from relayml.config import get_settings
from relayml.store import HEAD_REVISION
from relayml.tracking.local import LocalTracking
from tests.fixtures.auth import ADMIN_TOKEN, server_env
from tests.fixtures.net import free_port, loopback, wait_for_port
from tests.fixtures.warm_cli import spawn_relay

runner = CliRunner()


def relay(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run `relay ARGS` in-process."""
    return runner.invoke(app, list(args), env=env)


def ok(*args: str) -> str:
    """Run `relay ARGS`, assert success, return standard output."""
    result = relay(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(*args: str) -> Any:
    """Run `relay ARGS --json` and parse what it printed."""
    return json.loads(ok(*args, "--json"))


def assert_error(result: Result, *fragments: str, one_line: bool = True) -> None:
    """Exit code 1 and one 'Error: ...' line naming every fragment, without a traceback.

    Syntax errors in filters add the text with a caret under the mistake (one_line=False).
    """
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Error: "), result.stderr
    if one_line:
        assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


def clean_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in list(os.environ):
        if name.startswith("RELAY_") or name == "COLUMNS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RELAY_HOME", str(home))
    monkeypatch.setenv("RELAY_USER", "alice")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store for the CLI and for the test's own LocalBackend."""
    clean_env(monkeypatch, tmp_path / "home")
    return tmp_path / "home"


@dataclass
class Data:
    old: str  # run id, finished first
    new: str  # run id, newest, with a NaN metric and artifacts
    backend: LocalBackend


def make_data(backend: LocalBackend, source: Path) -> Data:
    """Project churn (one KPI), experiment baseline, two runs with params, metrics, artifacts."""
    backend.create_project(
        "churn",
        business_question="Who leaves next month?",
        kpis=[{"name": "churn_rate", "unit": "%", "direction": "decrease", "target": 5}],
    )
    backend.create_experiment("churn", "baseline", description="first try")
    ids = []
    for index, (model, auc) in enumerate([("lgbm", 0.81), ("xgb", 0.93)]):
        run = backend.create_run(
            "churn",
            "baseline",
            name=f"run-{model}",
            system={"python": "3.11.9", "git": {"commit": "c0ffee" * 6}},
            start_time=1_700_000_000_000 + index * 60_000,
        )
        backend.log_params(run.id, {"model": model, "depth": 3 + index})
        loss = math.nan if model == "xgb" else 0.25
        backend.log_metrics(
            run.id,
            [
                ("auc", auc - 0.1, 0, 1_700_000_001_000),
                ("auc", auc, 1, 1_700_000_002_000),
                ("loss", loss, 0, 1_700_000_002_000),
            ],
        )
        backend.set_tags(run.id, {"team": "risk"})
        ids.append(run.id)
    source.write_text("weights")
    backend.log_artifact(ids[1], "model/weights.bin", source)
    backend.log_artifact(ids[1], "model/conf/params.json", source)
    backend.log_artifact(ids[1], "report.txt", source)
    backend.end_run(ids[0], "FINISHED")
    return Data(old=ids[0], new=ids[1], backend=backend)


@pytest.fixture
def data(home: Path, tmp_path: Path) -> Iterator[Data]:
    backend = LocalBackend(get_settings())
    try:
        yield make_data(backend, tmp_path / "weights.bin")
    finally:
        backend.close()


# -- the shape of the command line -----------------------------------------------------------

LEAF_COMMANDS = [
    ["config"],
    ["db", "upgrade"],
    ["db", "current"],
    ["projects", "list"],
    ["projects", "show"],
    ["projects", "create"],
    ["experiments", "list"],
    ["experiments", "show"],
    ["runs", "list"],
    ["runs", "show"],
    ["runs", "search"],
    ["runs", "metrics"],
    ["artifacts", "list"],
    ["artifacts", "download"],
    ["audit"],
    ["server"],
]


def test_help_lists_every_command() -> None:
    out = ok("--help")
    for word in ("config", "db", "projects", "experiments", "runs", "artifacts", "audit", "server"):
        assert word in out


@pytest.mark.parametrize("command", LEAF_COMMANDS, ids=" ".join)
def test_each_command_help_teaches_an_example(command: list[str]) -> None:
    out = ok(*command, "--help")
    example = out.split("Example:")[1]
    assert f"relay {' '.join(command)}" in " ".join(example.split())


def test_importing_the_cli_loads_no_heavy_module() -> None:
    heavy = ["sqlalchemy", "pandas", "numpy", "fastapi", "uvicorn", "httpx", "alembic"]
    code = f"import sys, relayml.cli\nprint([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_module_entry_point_prints_one_error_line(home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "relayml.cli", "runs", "show", "no-such-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: run 'no-such-run' does not exist")
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


# -- settings and the database ---------------------------------------------------------------


def test_config_shows_each_setting_and_its_source(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_PROJECT", "churn")
    out = ok("config")
    assert "RELAY_PROJECT" in out and "environment" in out and "churn" in out
    assert "relayml[s3]" in out  # help text is printed as typed, not as Rich markup
    rows = {row["name"]: row for row in as_json("config")}
    assert rows["project"] == {
        "name": "project",
        "env": "RELAY_PROJECT",
        "value": "churn",
        "source": "environment",
        "help": rows["project"]["help"],
    }
    assert rows["executor"]["source"] == "default"
    assert rows["database_url"]["value"].endswith("relay.db")


def test_a_bad_setting_is_one_error_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_METRIC_BATCH_SIZE", "many")
    assert_error(relay("config"), "RELAY_METRIC_BATCH_SIZE")


def test_db_current_and_upgrade_on_sqlite(home: Path) -> None:
    assert "none (empty)" in ok("db", "current")
    assert f"from revision none (empty) to {HEAD_REVISION}" in ok("db", "upgrade")
    assert f"already at the newest revision {HEAD_REVISION}" in ok("db", "upgrade")
    info = as_json("db", "current")
    assert info == {
        "database": f"sqlite:///{(home / 'relay.db').absolute()}",
        "revision": HEAD_REVISION,
        "head": HEAD_REVISION,
        "up_to_date": True,
    }


def test_db_upgrade_and_server_on_postgresql(
    home: Path, monkeypatch: pytest.MonkeyPatch, pg_database_url: str
) -> None:
    monkeypatch.setenv("RELAY_DATABASE_URL", pg_database_url)
    assert as_json("db", "current")["revision"] is None
    # the server refuses an empty database with the way out, instead of serving errors
    assert_error(relay("server", "--port", str(free_port())), "relay db upgrade")
    assert_error(relay("projects", "list"), "relay db upgrade")
    assert f"from revision none (empty) to {HEAD_REVISION}" in ok("db", "upgrade")
    assert "up to date" in ok("db", "current")
    ok("projects", "create", "pg-project")
    assert [p["name"] for p in as_json("projects", "list")] == ["pg-project"]


# -- projects and experiments ----------------------------------------------------------------


def test_projects_create_list_show(home: Path) -> None:
    out = ok(
        "projects",
        "create",
        "churn",
        "--question",
        "Who leaves?",
        "--description",
        "retention",
        "--kpi",
        "churn_rate:%:decrease:5",
        "--kpi",
        "revenue:EUR",
    )
    assert "Created project 'churn'" in out
    listed = ok("projects", "list")
    assert "churn" in listed and "Who leaves?" in listed and "alice" in listed
    shown = ok("projects", "show", "churn")
    assert "Who leaves?" in shown and "retention" in shown and "churn_rate" in shown
    project = as_json("projects", "show", "churn")
    assert isinstance(project, dict)
    assert project["owner"] == "alice"
    assert project["kpis"][0] == {
        "name": "churn_rate",
        "unit": "%",
        "direction": "decrease",
        "target": 5.0,
        "description": "",
        "definition": {},
    }
    assert project["kpis"][1]["direction"] == "increase"
    assert project["kpis"][1]["target"] is None
    assert [p["name"] for p in as_json("projects", "list")] == ["churn"]


@pytest.mark.parametrize("kpi", ["rate:%:up:5", "rate:%:decrease:five", "a:b:c:d:e", ":%"])
def test_a_bad_kpi_is_a_usage_error(home: Path, kpi: str) -> None:
    result = relay("projects", "create", "churn", "--kpi", kpi)
    assert result.exit_code == 2, result.output
    assert "name:unit:direction:target" in result.output
    assert "Traceback" not in result.output
    assert as_json("projects", "list") == []  # nothing was created


def test_an_existing_project_is_a_conflict(data: Data) -> None:
    result = relay("projects", "create", "churn")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "churn" in result.stderr


def test_unknown_project_names_what_was_looked_up(data: Data) -> None:
    assert_error(relay("projects", "show", "nope"), "project 'nope' does not exist", "churn")
    assert_error(relay("runs", "list", "-p", "nope"), "'nope'")
    assert_error(relay("experiments", "list", "-p", "nope"), "'nope'")


def test_experiments_list_and_show(data: Data, monkeypatch: pytest.MonkeyPatch) -> None:
    out = ok("experiments", "list", "-p", "churn")
    assert "baseline" in out and "first try" in out
    monkeypatch.setenv("RELAY_PROJECT", "churn")  # the default for -p
    assert [e["name"] for e in as_json("experiments", "list")] == ["baseline"]
    shown = ok("experiments", "show", "baseline")
    assert "first try" in shown and data.new in shown and data.old in shown
    detail = as_json("experiments", "show", "baseline")
    assert isinstance(detail, dict)
    assert detail["name"] == "baseline"
    assert [r["id"] for r in detail["recent_runs"]] == [data.new, data.old]
    assert_error(relay("experiments", "show", "nope"), "experiment 'nope'")


# -- runs ------------------------------------------------------------------------------------


def test_runs_list_newest_first(data: Data) -> None:
    out = ok("runs", "list", "-p", "churn")
    assert out.index(data.new) < out.index(data.old)
    assert "auc=0.93" in out and "loss=NaN" in out and "FINISHED" in out and "RUNNING" in out
    runs = as_json("runs", "list", "-p", "churn", "--limit", "1")
    assert isinstance(runs, list)
    assert [r["id"] for r in runs] == [data.new]
    assert runs[0]["metrics"] == {"auc": 0.93, "loss": "NaN"}
    assert as_json("runs", "list", "-p", "churn", "-e", "nope") == []


def test_runs_show_everything_about_a_run(data: Data) -> None:
    out = ok("runs", "show", data.new)
    for expected in (data.new, "run-xgb", "baseline", "RUNNING", "alice", "model", "xgb"):
        assert expected in out
    assert "0.93" in out and "NaN" in out and "team" in out and "risk" in out
    assert "3.11.9" in out and "model/weights.bin" in out and "report.txt" in out
    run = as_json("runs", "show", data.new)
    assert isinstance(run, dict)
    assert run["id"] == data.new
    assert run["params"] == {"model": "xgb", "depth": "4"}
    assert run["metrics"] == {"auc": 0.93, "loss": "NaN"}
    assert run["system"]["git"]["commit"] == "c0ffee" * 6
    assert sorted(a["path"] for a in run["artifacts"]) == [
        "model/conf/params.json",
        "model/weights.bin",
        "report.txt",
    ]


def test_a_unique_run_id_prefix_is_enough(data: Data) -> None:
    run = as_json("runs", "show", data.new[:8])
    assert isinstance(run, dict) and run["id"] == data.new
    taken = {data.new[:6], data.old[:6]}
    unused = next(p for p in ("abcdef", "fedcba", "012345") if p not in taken)
    assert_error(relay("runs", "show", unused), f"no run id starts with '{unused}'")


def test_unknown_run_is_one_error_line(data: Data) -> None:
    assert_error(relay("runs", "show", "no-such-run"), "run 'no-such-run' does not exist")
    assert_error(relay("runs", "metrics", "no-such-run", "auc"), "no-such-run")
    assert_error(relay("artifacts", "list", "no-such-run"), "no-such-run")


def test_runs_search_shows_the_fields_it_names(data: Data) -> None:
    out = ok(
        "runs", "search", "metrics.auc > 0.9 and params.model = 'xgb'",
        "-o", "params.depth DESC", "-p", "churn",
    )  # fmt: skip
    assert data.new in out and data.old not in out
    for column in ("metrics.auc", "params.model", "params.depth"):
        assert column in out
    assert "0.93" in out
    page = as_json("runs", "search", "tags.team = 'risk'", "-p", "churn", "-o", "metrics.auc")
    assert isinstance(page, dict)
    assert [r["id"] for r in page["runs"]] == [data.old, data.new]
    assert page["next_page_token"] is None


def test_runs_search_pages(data: Data) -> None:
    out = ok("runs", "search", "-p", "churn", "-n", "1", "-o", "metrics.auc DESC")
    assert data.new in out and data.old not in out
    token = out.split("--page-token ")[1].split()[0]
    page = as_json("runs", "search", "-p", "churn", "-n", "1", "-o", "metrics.auc DESC",
                   "--page-token", token)  # fmt: skip
    assert isinstance(page, dict)
    assert [r["id"] for r in page["runs"]] == [data.old]
    assert_error(relay("runs", "search", "-p", "churn", "--page-token", "garbage"), "page token")


def test_a_filter_mistake_points_at_it(data: Data) -> None:
    result = relay("runs", "search", "metrics.auc >> 0.5", "-p", "churn")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Invalid filter:")
    assert "position 13" in result.stderr
    lines = result.stderr.rstrip("\n").splitlines()
    assert lines[-2].strip() == "metrics.auc >> 0.5"
    assert lines[-1].index("^") == lines[-2].index("metrics") + 13
    assert "Traceback" not in result.output
    result = relay("runs", "search", "-o", "metrics.auc sideways", "-p", "churn")
    assert_error(result, "expected ASC or DESC", "^", one_line=False)


def test_runs_metrics_series(data: Data) -> None:
    out = ok("runs", "metrics", data.new, "auc")
    assert "0.93" in out and "0.83" in out
    local = datetime.fromtimestamp(1_700_000_002, tz=UTC).astimezone()
    assert local.strftime("%Y-%m-%d %H:%M:%S") in out  # the time column, in local ISO form
    points = as_json("runs", "metrics", data.new, "loss")
    assert points == [{"key": "loss", "value": "NaN", "step": 0, "timestamp": 1_700_000_002_000}]
    assert_error(relay("runs", "metrics", data.new, "f1"), "no metric 'f1'", "auc")


# -- artifacts and audit ---------------------------------------------------------------------


def test_artifacts_list(data: Data) -> None:
    out = ok("artifacts", "list", data.new)
    assert "model/weights.bin" in out and "report.txt" in out and "7 B" in out
    listed = as_json("artifacts", "list", data.new, "model")
    assert isinstance(listed, list)
    assert [a["path"] for a in listed] == ["model/conf/params.json", "model/weights.bin"]
    assert len(listed[0]["sha256"]) == 64
    assert "has no artifacts" in ok("artifacts", "list", data.old)


def test_artifacts_download_a_file_and_a_folder(data: Data, tmp_path: Path) -> None:
    out_dir = tmp_path / "downloads"
    out = ok("artifacts", "download", data.new, "report.txt", "--out", str(out_dir))
    assert (out_dir / "report.txt").read_text() == "weights"
    assert str(out_dir / "report.txt") in out
    out = ok("artifacts", "download", data.new, "model", "--out", str(out_dir))
    assert "2 files" in out and str(out_dir / "model") in out
    assert (out_dir / "model" / "weights.bin").read_text() == "weights"
    assert (out_dir / "model" / "conf" / "params.json").read_text() == "weights"
    assert_error(
        relay("artifacts", "download", data.new, "nothing.txt", "--out", str(out_dir)),
        "no artifact or folder 'nothing.txt'",
    )


def test_audit_log(data: Data) -> None:
    out = ok("audit")
    assert "alice" in out and "project" in out
    entries = as_json("audit", "--kind", "run", "--id", data.old, "--limit", "50")
    assert isinstance(entries, list) and entries
    assert {e["entity_id"] for e in entries} == {data.old}
    assert entries[0]["action"] == "run.end"  # newest first
    assert len(as_json("audit", "--limit", "2")) == 2


def test_ctrl_c_exits_130_quietly(data: Data, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalTracking, "list_projects", interrupted)  # LocalBackend's too
    result = relay("projects", "list")
    assert result.exit_code == 130
    assert "Traceback" not in result.output


# -- a real `relay server` -------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(home: Path, *extra: str) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(server_env(home, user="server"))  # auth on; its admin's token is ADMIN_TOKEN
    log = home.parent / "server.log"
    process = spawn_relay(
        ["server", "--port", str(port), *extra], env=env, cwd=Path.cwd(), stdout=log
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
    except TimeoutError:
        stop_server(Server("", process, log))
        raise AssertionError(log.read_text()) from None
    return Server(f"http://127.0.0.1:{port}", process, log)


def stop_server(server: Server, sig: int = signal.SIGTERM) -> int:
    """Signal the server and wait for it to exit; returns its exit status."""
    if server.process.poll() is not None:
        return server.process.returncode
    server.process.send_signal(sig)
    try:
        return server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()


@pytest.fixture
def server(data: Data, home: Path) -> Iterator[Server]:
    running = start_server(home)
    try:
        yield running
    finally:
        stop_server(running)


def test_relay_server_serves_and_stops_on_sigterm(server: Server) -> None:
    health = loopback.get(server.url + "/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["schema_revision"] == HEAD_REVISION
    # uvicorn shuts down gracefully, then lets SIGTERM end the process as the signal would
    assert stop_server(server) in (0, -signal.SIGTERM)
    printed = server.log.read_text()
    assert server.url in printed and "Ctrl-C" in printed
    assert "Application shutdown complete" in printed and "Traceback" not in printed


def test_ctrl_c_stops_relay_server_quietly(server: Server) -> None:
    assert loopback.get(server.url + "/healthz", timeout=10).status_code == 200
    assert stop_server(server, signal.SIGINT) == 0  # stopping the server is its normal end
    printed = server.log.read_text()
    assert "Application shutdown complete" in printed and "Traceback" not in printed


def test_relay_server_with_workers(data: Data, home: Path) -> None:
    running = start_server(home, "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = loopback.get(running.url + "/healthz", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.json()["status"] == "ok"
        # the workers (uvicorn's factory) run with auth on too
        assert loopback.get(running.url + "/api/v1/projects", timeout=10).status_code == 401
        signed = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        listed = loopback.get(running.url + "/api/v1/projects", headers=signed, timeout=10)
        assert listed.status_code == 200
    finally:
        assert stop_server(running) in (0, -signal.SIGTERM)


def test_runs_list_through_the_server_matches_in_process(
    server: Server, data: Data, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_out = ok("runs", "list", "-p", "churn")
    local_show = as_json("runs", "show", data.new)
    monkeypatch.setenv("RELAY_SERVER_URL", server.url)
    monkeypatch.setenv("RELAY_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("RELAY_HOME", str(data.backend.settings.home.parent / "unused"))
    assert ok("runs", "list", "-p", "churn") == local_out
    assert as_json("runs", "show", data.new[:10]) == local_show
    assert_error(relay("runs", "show", "no-such-run"), "run 'no-such-run' does not exist")
    assert not (data.backend.settings.home.parent / "unused").exists()  # nothing opened locally


def test_an_unreachable_server_is_one_error_line(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_SERVER_URL", f"http://127.0.0.1:{free_port()}")
    assert_error(relay("projects", "list"), "cannot reach the relay server")
