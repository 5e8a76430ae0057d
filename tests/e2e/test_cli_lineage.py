"""`relay lineage KIND KEY`: the tree, --json, --direction, --depth, and its errors.

Run in-process on an embedded store, and against a relay server over HTTP.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from relayml.backend import open_backend
from relayml.cli import app as relay_app
from relayml.config import get_settings
from relayml.domain.lineage import LineageEdge, LineageGraph, LineageNode
from relayml.domain.ports import Backend
from tests.fixtures.auth import ADMIN_TOKEN

runner = CliRunner()


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store, project `demo`."""
    for name in list(os.environ):
        if name.startswith("RELAY_") or name == "COLUMNS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELAY_USER", "alice")
    monkeypatch.setenv("RELAY_PROJECT", "demo")
    return tmp_path / "home"


def relay(*args: str) -> Result:
    return runner.invoke(relay_app, list(args))


def ok(*args: str) -> str:
    result = relay(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def edge(src: tuple[str, str], dst: tuple[str, str], relation: str) -> LineageEdge:
    return LineageEdge(
        src_kind=src[0], src_key=src[1], dst_kind=dst[0], dst_key=dst[1], relation=relation
    )


def populate(b: Backend) -> dict[str, Any]:
    """A raw file feeds customers@1, which trains a run that produced churn/1."""
    b.create_project("demo")
    run = b.create_run("demo", "training", name="brave-owl")
    n = {
        "src": ("source", "s3://raw/customers.csv"),
        "dv": ("dataset_version", "demo/customers@1"),
        "run": ("run", run.id),
        "mv": ("model_version", "demo/churn/1"),
    }
    b.link(
        [
            LineageNode(kind="dataset_version", key="demo/customers@1", label="customers@1"),
            LineageNode(kind="run", key=run.id, label="brave-owl"),
        ],
        [
            edge(n["src"], n["dv"], "derived_from"),
            edge(n["dv"], n["run"], "input_of"),
            edge(n["run"], n["mv"], "produced"),
        ],
    )
    return n


@pytest.fixture
def data(env: Path) -> Iterator[dict[str, Any]]:
    b = open_backend(get_settings())
    try:
        yield populate(b)
    finally:
        b.close()


def test_tree_shows_upstream_and_downstream(data: dict[str, Any]) -> None:
    out = ok("lineage", "dataset_version", "customers@1")
    lines = out.splitlines()
    assert lines[0].startswith("dataset_version demo/customers@1")
    assert "upstream" in lines[1]
    assert "◀ derived_from  source s3://raw/customers.csv" in out
    assert "downstream" in out
    assert f"▶ input_of  run {data['run'][1]}  brave-owl" in out
    assert "▶ produced  model_version demo/churn/1" in out
    assert out.index("input_of") < out.index("produced")  # produced hangs under the run


def test_direction_depth_and_project_keys(data: dict[str, Any]) -> None:
    out = ok("lineage", "model_version", "churn/1", "--direction", "upstream", "--depth", "1")
    assert "downstream" not in out
    assert "produced  run" in out and "input_of" not in out
    out = ok("lineage", "model_version", "demo/churn/1", "--direction", "upstream")
    assert "derived_from  source s3://raw/customers.csv" in out
    out = ok("lineage", "source", "s3://raw/customers.csv", "--direction", "upstream")
    assert "nothing recorded within depth 3" in out


def test_runs_by_prefix_and_json(data: dict[str, Any]) -> None:
    run_id = data["run"][1]
    graph = LineageGraph.model_validate(json.loads(ok("lineage", "run", run_id[:8], "--json")))
    assert graph.root.key == run_id and graph.root.label == "brave-owl"
    assert {(n.kind, n.key) for n in graph.nodes} == set(data.values())
    assert len(graph.edges) == 3


def test_unknown_entity_is_one_error_line(data: dict[str, Any]) -> None:
    result = relay("lineage", "dataset_version", "customers@9")
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "Error: no lineage is recorded for dataset_version 'demo/customers@9'"
    )
    assert "relay lineage --help" in lines[0]
    result = relay("lineage", "Dataset", "x")
    assert result.exit_code == 1 and "lineage kind 'Dataset' must be" in result.stderr


def test_usage_errors_exit_2(data: dict[str, Any]) -> None:
    assert relay("lineage", "run").exit_code == 2
    assert relay("lineage", "run", "x", "--direction", "sideways").exit_code == 2
    assert relay("lineage", "run", "x", "--depth", "0").exit_code == 2


def test_help_names_the_kinds() -> None:
    out = ok("lineage", "--help")
    for kind in ("dataset_version", "model_version", "job_run", "--direction", "--depth"):
        assert kind in out


def test_wide_graphs_stay_readable(env: Path) -> None:
    b = open_backend(get_settings())
    try:
        root = ("dataset_version", "demo/wide@1")
        b.link([], [edge(root, ("run", f"r{i:03d}"), "input_of") for i in range(120)])
        b.link([], [edge(("run", "r000"), root, "derived_from")])  # a cycle
    finally:
        b.close()
    out = ok("lineage", "dataset_version", "wide@1")
    assert "… and 70 more (see --json)" in out
    assert "(shown above)" in out


def test_over_http(relay_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_SERVER_URL", relay_server)
    monkeypatch.setenv("RELAY_TOKEN", ADMIN_TOKEN)
    b = open_backend(get_settings())
    try:
        n = populate(b)
    finally:
        b.close()
    out = ok("lineage", "run", n["run"][1])
    assert "◀ input_of  dataset_version demo/customers@1" in out
    assert "▶ produced  model_version demo/churn/1" in out
    result = relay("lineage", "job_run", "no-such-run")
    assert result.exit_code == 1
    assert "no lineage is recorded for job_run 'no-such-run'" in result.stderr
