"""The reads every MLflow call makes through prebuilt statements answer as the SQLAlchemy queries
did, on SQLite and PostgreSQL: a token's identity (revoked, expired, disabled seen at once), an
experiment by id, and a run's latest points, experiment id and dataset inputs (one run and a
page of runs alike)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.errors import InvalidInput, NotFound
from relayml.identity.tokens import create_token, revoke_token, verify_token
from relayml.identity.users import add_user, disable_user, enable_user
from relayml.interop import mlflow_experiments as experiments
from relayml.interop import mlflow_runs


@pytest.fixture
def local(store_url: str, tmp_path: Path) -> Iterator[LocalBackend]:
    backend = LocalBackend(get_settings(home=tmp_path / "home", database_url=store_url))
    try:
        backend.create_project("mlflow")
        yield backend
    finally:
        backend.close()


def test_token_identity_follows_revocation_expiry_and_disabling(local: LocalBackend) -> None:
    store = local.store
    add_user(store, "admin", "ada", admin=True)
    add_user(store, "admin", "bob")
    info, secret = create_token(store, "admin", "ada", "laptop", scopes=["api", "predict"])
    found = verify_token(store, secret)
    assert found is not None
    assert (found.name, found.is_admin, found.scopes, found.via) == (
        "ada",
        True,
        frozenset({"api", "predict"}),
        "token",
    )
    _, plain = create_token(store, "admin", "bob", "ci", expires_in_days=None)
    bob = verify_token(store, plain)
    assert bob is not None and (bob.is_admin, bob.scopes) == (False, frozenset({"api"}))
    assert verify_token(store, secret + "x") is None
    assert verify_token(store, "not-a-token") is None

    disable_user(store, "admin", "bob")
    assert verify_token(store, plain) is None
    enable_user(store, "admin", "bob")
    assert verify_token(store, plain) is not None

    revoke_token(store, "admin", info.id)
    assert verify_token(store, secret) is None

    _, brief = create_token(store, "admin", "ada", "brief", expires_in_days=0.1 / 86_400)
    time.sleep(0.2)
    assert verify_token(store, brief) is None


def test_experiment_by_id_is_the_listed_one(local: LocalBackend) -> None:
    store = local.store
    tags = {"team": "risk", "note": "a/b c"}
    made = experiments.create(store, "admin", "mlflow", "mlflow", "my exp", tags=tags)
    local.create_run("mlflow", "plain-relay", name="r")  # a relayml experiment, no MLflow row
    for exp in experiments.list_all(store, "mlflow"):
        assert experiments.find(store, "mlflow", str(exp.id)) == exp
    assert experiments.find(store, "mlflow", str(made.id)).tags == tags
    for missing in ("987654", str(2**31 - 1), str(2**31), str(2**63), str(10**30)):
        with pytest.raises(NotFound):
            experiments.find(store, "mlflow", missing)
    with pytest.raises(InvalidInput):
        experiments.find(store, "mlflow", "abc")


def test_one_run_reads_like_a_page_of_runs(local: LocalBackend) -> None:
    store = local.store
    full = local.create_run("mlflow", "e1", name="full")
    local.log_metrics(full.id, [("loss", 0.5, 0, 1), ("loss", 0.25, 3, 2), ("nan", math.nan, 1, 4)])
    datasets = [
        {"dataset": {"name": "train", "digest": "d1", "source_type": "local"}, "tags": []},
        {
            "dataset": {"name": "eval", "digest": "d2"},
            "tags": [{"key": "mlflow.data.context", "value": "eval"}],
        },
    ]
    mlflow_runs.log_inputs(store, "admin", full.id, datasets)
    bare = local.create_run("mlflow", "e2", name="bare")
    ids = [full.id, bare.id]
    with store.read() as conn:
        page = mlflow_runs.run_extras(conn, ids)
        singles = [mlflow_runs.run_extras(conn, [i]) for i in ids]
        assert mlflow_runs.run_extras(conn, []) == ({}, {}, {})
        assert mlflow_runs.run_extras(conn, ["0" * 32]) == ({}, {"0" * 32: []}, {"0" * 32: []})
    exp_ids, points, inputs = page
    assert exp_ids[full.id] != exp_ids[bare.id]
    loss = [p for p in points[full.id] if p[0] == "loss"]
    assert loss == [("loss", 0.25, 3, 2)]
    assert [(k, math.isnan(v), s, t) for k, v, s, t in points[full.id] if k == "nan"] == [
        ("nan", True, 1, 4)
    ]
    assert points[bare.id] == [] and inputs[bare.id] == []
    assert [i["dataset"]["name"] for i in inputs[full.id]] == ["train", "eval"]
    assert inputs[full.id][1]["tags"] == [{"key": "mlflow.data.context", "value": "eval"}]
    for run_id, (one_exp, one_points, one_inputs) in zip(ids, singles, strict=True):
        assert one_exp == {run_id: exp_ids[run_id]}
        assert repr(one_points[run_id]) == repr(points[run_id])
        assert one_inputs == {run_id: inputs[run_id]}
    # the store-level reads answer the same
    assert mlflow_runs.experiment_ids(store, ids) == exp_ids
    assert repr(mlflow_runs.latest_points(store, ids)) == repr(points)
    assert mlflow_runs.dataset_inputs(store, ids) == inputs
    mlflow_runs.warm(store)  # compiles, reads nothing
