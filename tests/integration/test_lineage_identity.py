"""Lineage gaps (issue #11): a dataset logged from a pipeline's output is linked to that run, and
an OpenLineage dataset names the same node as relay's own source for the same file or object."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.lineage.identity import dataset_identity, dataset_key


def _event(namespace: str, name: str) -> dict[str, object]:
    return {
        "eventType": "COMPLETE",
        "eventTime": datetime.now(UTC).isoformat(),
        "producer": "https://example.com/airflow",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "airflow", "name": f"etl.{uuid.uuid4().hex[:6]}"},
        "inputs": [{"namespace": namespace, "name": name}],
        "outputs": [],
    }


@pytest.mark.parametrize(
    ("uri", "namespace", "name"),
    [
        ("/data/customers.csv", "file", "/data/customers.csv"),
        ("file:///data/customers.csv", "file", "/data/customers.csv"),
        ("file:/data/customers.csv", "file", "/data/customers.csv"),
        ("s3://bucket/raw/customers.csv", "s3://bucket", "raw/customers.csv"),
        ("s3a://bucket/raw/customers.csv", "s3://bucket", "raw/customers.csv"),
        ("gs://bucket/a.parquet", "gs://bucket", "a.parquet"),
        ("postgres://db:5432/shop.public.orders", "postgres://db:5432", "shop.public.orders"),
    ],
)
def test_identities_follow_the_openlineage_naming_spec(uri: str, namespace: str, name: str) -> None:
    assert dataset_identity(uri) == (namespace, name)


def test_a_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert dataset_identity("customers.csv") == ("file", f"{tmp_path.resolve()}/customers.csv")
    assert dataset_key("file", "/data/customers.csv") == "file:///data/customers.csv"
    assert dataset_key("s3://bucket", "raw/c.csv") == "s3://bucket/raw/c.csv"


def test_relay_sources_and_openlineage_datasets_are_one_node(
    backend: Backend, project: str, tmp_path: Path
) -> None:
    from relayml.data.sources import log_dataset

    csv = tmp_path / "customers.csv"
    pd.DataFrame({"x": [1, 2, 3]}).to_csv(csv, index=False)
    version = log_dataset(backend, project, "customers", str(csv))
    backend.ingest_openlineage(_event("file", str(csv)))
    graph = backend.lineage("dataset", f"file://{csv}", direction="downstream")
    kinds = {(n.kind, n.key) for n in graph.nodes}
    assert ("dataset_version", f"{project}/{version.ref}") in kinds
    assert any(n.kind == "job_run" for n in graph.nodes)  # the Airflow run read the same node
    assert ("dataset", f"file://{csv}") in kinds and len({k for k, _ in kinds}) >= 3
    # looked up the old way, by kind source and the path, it is the same node
    old_way = backend.lineage("source", str(csv), direction="downstream")
    assert {(n.kind, n.key) for n in old_way.nodes} == kinds


def test_a_dataset_logged_from_a_pipeline_run_is_linked_to_it(
    backend: Backend, project: str
) -> None:
    from relayml.data.sources import log_dataset

    run = backend.create_pipeline_run(project, "m:build")
    frame = pd.DataFrame({"x": [1, 2, 3]})
    version = log_dataset(backend, project, "features", frame, source={"pipeline_run": run.id})
    graph = backend.lineage("pipeline_run", run.id, direction="downstream")
    assert (
        "pipeline_run",
        run.id,
        "produced",
        "dataset_version",
        f"{project}/{version.ref}",
    ) in {(e.src_kind, e.src_key, e.relation, e.dst_kind, e.dst_key) for e in graph.edges}
    with pytest.raises(InvalidInput, match="pipeline run 'nope' "):
        log_dataset(backend, project, "other", frame.head(1), source={"pipeline_run": "nope"})
