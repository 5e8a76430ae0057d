"""A relay pipeline run tells an external OpenLineage receiver (here: a real relay server)."""

from __future__ import annotations

from pathlib import Path

import pytest

import relayml as relay
from relayml.client import HttpBackend
from relayml.config import get_settings
from relayml.lineage import openlineage_out
from tests.fixtures.auth import ADMIN_TOKEN


@relay.step
def numbers(n: int) -> list[int]:
    return list(range(n))


@relay.step
def total(values: list[int]) -> int:
    return sum(values)


@relay.pipeline
def summing(n: int = 5) -> dict[str, object]:
    return {"total": total(numbers(n))}


def test_pipeline_runs_emit_start_and_complete(
    relay_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_OPENLINEAGE_URL", relay_server)
    # The receiver is a relay server with auth on: the events carry a token that may write lineage.
    monkeypatch.setenv("RELAY_OPENLINEAGE_API_KEY", ADMIN_TOKEN)
    relay.init(project="emitter", home=tmp_path / "home")
    try:
        run = summing.run(n=4)
    finally:
        relay.init(project="teardown", home=tmp_path / "teardown")
    assert run.status == "FINISHED"
    receiver = HttpBackend(get_settings(server_url=relay_server, token=ADMIN_TOKEN))
    try:
        key = openlineage_out._run_uuid("emitter", run.id)
        graph = receiver.lineage("job_run", key, depth=1)
    finally:
        receiver.close()
    assert graph.root.facets.get("eventType") == "COMPLETE"
    assert any(node.kind == "job" for node in graph.nodes)
