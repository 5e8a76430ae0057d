"""A gate that finds no evaluation on the policy's dataset says which it wants and what it found
(issue #11: it said "the version has no evaluation" although one on a DataFrame existed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

import relayml as relay
from relayml.errors import GateFailed
from tests.integration.test_models_sdk import FEATURES, customers


def test_the_gate_names_the_wanted_dataset_and_the_evaluations_found(tmp_path: Path) -> None:
    relay.init(project="gates", home=tmp_path / "home")
    train = customers(300, 1)
    with relay.start_run(experiment="m") as run:
        model = LogisticRegression(max_iter=500).fit(train[FEATURES], train.churned)
        run.log_model(model, "churn", input_example=train[FEATURES].head(3))
    relay.set_policy("evaluation: {dataset: holdout}\nenvironments:\n  staging:\n"
                     "    checks: [{metric: roc_auc, min: 0.5}]\n")  # fmt: skip
    with pytest.raises(GateFailed, match=r"run relay\.evaluate") as none_yet:
        relay.promote("churn/1", to="staging")
    assert "dataset='holdout'" in str(none_yet.value)

    found = relay.evaluate("churn/1", customers(200, 2), "churned")  # no dataset=
    with pytest.raises(GateFailed) as caught:
        relay.promote("churn/1", to="staging")
    message = str(caught.value)
    assert "has no evaluation to check" not in message
    assert "'holdout'" in message and repr(found.dataset) in message
    assert "dataset='holdout'" in message

    relay.evaluate("churn/1", customers(200, 3), "churned", dataset="holdout")
    assert relay.promote("churn/1", to="staging").status == "PROMOTED"
    relay.init(project="teardown", home=tmp_path / "teardown")
