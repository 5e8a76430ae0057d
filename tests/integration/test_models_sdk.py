"""Models through the SDK, as a data scientist uses them: log, load, evaluate, promote."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

import relayml as relay
from relayml.client import HttpBackend
from relayml.errors import CorruptArtifact, GateFailed, InvalidInput, PermissionDenied
from tests.fixtures.auth import ADMIN_TOKEN, SigningHttpBackend

KPIS = [
    {"name": "customers_kept", "unit": "customers", "target": 10,
     "definition": {"type": "confusion_value", "tp": 0.3}},
    {"name": "money_saved", "unit": "EUR", "target": 1000,
     "definition": {"type": "confusion_value", "tp": 270, "fp": -30}},
]  # fmt: skip

POLICY = """
evaluation: {dataset: holdout}
environments:
  staging:
    checks: [{metric: roc_auc, min: 0.6}]
  production:
    requires: [staging]
    checks: [{metric: roc_auc, min: 0.6}, {no_regression: roc_auc, margin: 0.02}]
    approvals: [{role: risk_manager}]
"""


def customers(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "charges": rng.normal(60, 15, rows),
            "calls": rng.poisson(1.5, rows),
            "region": rng.choice(["north", "south"], rows),
        }
    )
    logit = -1 - 0.04 * frame.tenure + 0.02 * (frame.charges - 60) + 0.5 * frame.calls
    frame["churned"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


FEATURES = ["tenure", "charges", "calls"]


@pytest.fixture(params=["in-process", "http"])
def sdk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    project = f"models-{uuid.uuid4().hex[:8]}"
    if request.param == "http":
        server = request.getfixturevalue("relay_server")
        request.getfixturevalue("monkeypatch").setenv("RELAY_TOKEN", ADMIN_TOKEN)
        relay.init(project=project, server_url=server, home=tmp_path / "client", kpis=KPIS)
    else:
        relay.init(project=project, home=tmp_path / "home", kpis=KPIS)
    yield project
    relay.init(project="teardown", home=tmp_path / "teardown")


def test_log_load_evaluate_promote(sdk: str, request: pytest.FixtureRequest) -> None:
    train, holdout = customers(600, 1), customers(400, 2)
    with relay.start_run(experiment="models") as run:
        model = GradientBoostingClassifier(n_estimators=30, random_state=0)
        model.fit(train[FEATURES], train.churned)
        version = run.log_model(model, "churn", input_example=train[FEATURES].head(5))
    assert version.version == 1 and version.flavor == "sklearn" and version.run_id == run.id
    assert [c.name for c in version.signature.inputs] == FEATURES
    assert version.signature.has_proba and version.signature.classes == [0, 1]
    assert any(r.startswith("scikit-learn==") for r in version.requirements)
    assert relay.get_run(run.id).tags["model.churn"] == "1"

    predictor = relay.load_model("churn/1")
    np.testing.assert_allclose(
        predictor.predict_proba(holdout[FEATURES]), model.predict_proba(holdout[FEATURES])
    )
    records = holdout[FEATURES].head(3).to_dict(orient="records")
    assert list(predictor.predict(records)) == list(model.predict(holdout[FEATURES].head(3)))
    with pytest.raises(InvalidInput, match="'tenure' expected int64, got string"):
        predictor.predict([{"tenure": "ten", "charges": 50.0, "calls": 1}])
    with pytest.raises(InvalidInput, match="missing columns: calls"):
        predictor.predict([{"tenure": 3, "charges": 50.0}])

    evaluation = relay.evaluate("churn/1", holdout, "churned", by=["region"], dataset="holdout")
    assert evaluation.rows == 400 and 0.6 < evaluation.metrics["roc_auc"] <= 1
    assert set(evaluation.segments["region"]) == {"north", "south"}
    kept = evaluation.kpis["customers_kept"]
    assert kept["unit"] == "customers" and kept["value"] is not None and kept["value"] > 0

    relay.set_policy(POLICY)
    with pytest.raises(GateFailed, match="passed through staging"):
        relay.promote("churn/1", to="production")
    assert relay.promote("churn/1", to="staging").status == "PROMOTED"
    pending = relay.promote("churn/1", to="production", reason="first release")
    assert pending.status == "PENDING_APPROVAL"
    with pytest.raises(PermissionDenied):
        relay.approve("churn/1", "production")
    relay.get_backend().add_member(sdk, "rita", "risk_manager")
    backend = relay.get_backend()
    if isinstance(backend, HttpBackend):  # over HTTP rita signs in with a token of her own
        home = request.getfixturevalue("relay_server_home")
        rita = SigningHttpBackend(backend.settings, home).with_actor("rita")
    else:
        rita = backend.with_actor("rita")
    approved = rita.decide_promotion(sdk, "churn/1", "production", "approve", "ok")
    if rita is not relay.get_backend():
        rita.close()
    assert approved.status == "PROMOTED"
    assert relay.load_model("churn@production").version == 1


def test_other_flavors_and_a_bad_example(sdk: str) -> None:
    train = customers(200, 3)
    linear = LogisticRegression(max_iter=200).fit(train[FEATURES].to_numpy(), train.churned)
    version = relay.log_model(linear, "linear", train[FEATURES].to_numpy()[:4])
    assert version.signature.input_kind == "ndarray"
    assert relay.load_model("linear").predict(train[FEATURES].to_numpy()[:2]).shape == (2,)
    with pytest.raises(InvalidInput, match="input_example"):
        relay.log_model(linear, "linear", None)
    with pytest.raises(InvalidInput):
        relay.log_model(linear, "linear", {"not": "a table"})
    with pytest.raises(InvalidInput, match="predict"):
        relay.log_model(object(), "nothing", train[FEATURES].head(2))


def test_a_model_file_edited_after_logging_is_refused(tmp_path: Path) -> None:
    relay.init(project="tamper", home=tmp_path / "home")
    try:
        train = customers(100, 4)
        model = LogisticRegression(max_iter=200).fit(train[FEATURES], train.churned)
        version = relay.log_model(model, "churn", train[FEATURES].head(3))
        blobs = relay.get_backend().blobs  # type: ignore[attr-defined]
        path = Path(blobs.path_of(version.files[0].sha256))
        path.write_bytes(path.read_bytes() + b"tampered")
        with pytest.raises(CorruptArtifact) as err:
            relay.load_model("churn/1")
        assert version.files[0].sha256 in err.value.message
    finally:
        relay.init(project="teardown", home=tmp_path / "teardown")
