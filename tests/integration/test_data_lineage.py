"""From a CSV file to a model version: datasets, run inputs and models linked in one graph."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import relayml as relay
from tests.fixtures.auth import ADMIN_TOKEN


@pytest.fixture(params=["in-process", "http"])
def sdk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    project = f"lineage-{uuid.uuid4().hex[:8]}"
    if request.param == "http":
        request.getfixturevalue("monkeypatch").setenv("RELAY_TOKEN", ADMIN_TOKEN)
        relay.init(project=project, server_url=request.getfixturevalue("relay_server"))
    else:
        relay.init(project=project, home=tmp_path / "home")
    yield project
    relay.init(project="teardown", home=tmp_path / "teardown")


def test_source_to_dataset_to_run_to_model(sdk: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "y": rng.integers(0, 2, 200)})
    csv = tmp_path / "customers.csv"
    frame.to_csv(csv, index=False)
    version = relay.log_dataset("customers", csv)
    assert version.ref == "customers@1" and version.rows == 200
    assert relay.log_dataset("customers", frame).version == 1  # same data, same version
    loaded = relay.load_dataset("customers@latest")
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)

    with relay.start_run(experiment="train") as run:
        assert run.log_input("customers@latest") == "customers@1"
        model = LogisticRegression().fit(loaded[["x"]], loaded.y)
        run.log_model(model, "churn", loaded[["x"]].head(3), datasets=["customers"])

    graph = relay.get_lineage("source", str(csv.resolve()), depth=5, direction="downstream")
    kinds = {(n.kind, n.key) for n in graph.nodes}
    assert ("dataset_version", f"{sdk}/customers@1") in kinds
    assert ("run", run.id) in kinds
    assert ("model_version", f"{sdk}/churn/1") in kinds
    upstream = relay.get_lineage("model_version", f"{sdk}/churn/1", direction="upstream")
    relations = {(e.src_kind, e.relation, e.dst_kind) for e in upstream.edges}
    assert ("run", "produced", "model_version") in relations
    assert ("dataset_version", "trained", "model_version") in relations
    assert ("dataset_version", "input_of", "run") in relations
