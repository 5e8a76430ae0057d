"""relayml.demo.production on its own: the smallest store it needs, then production.

The example runs after the demo has put a model in production. Here a small store is set up
instead (one model trained on the demo's customer table, in production, with its training data
and a holdout), then `run_in_production` serves it, records outcomes and monitors it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from relayml.backend import LocalBackend
from relayml.config import get_settings

SETUP_AND_RUN = """
from sklearn.linear_model import LogisticRegression
import relayml as relay
from relayml.demo.story import customer_table, with_preprocessing
from relayml.demo.production import run_in_production

relay.init(project="churn", home={home!r})
customers = customer_table(rows=800, seed=7)
relay.log_dataset("customers", customers)
relay.log_dataset("customers_holdout", customer_table(rows=200, seed=11))
X, y = customers.drop(columns=["churned"]), customers["churned"]
model = with_preprocessing(LogisticRegression(max_iter=500), scale=True).fit(X, y)
with relay.start_run(experiment="minimal") as run:
    version = run.log_model(model, "churn", input_example=X.head(5), datasets=["customers"])
relay.promote(version.ref, to="production")
answers = run_in_production(customer_table(rows=300, seed=23))
print("answered", len(answers["prediction_ids"]))
"""


@pytest.mark.timeout(900)  # many CLI processes; a hang still fails it
def test_run_in_production_serves_records_outcomes_and_monitors(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = SETUP_AND_RUN.format(home=str(home))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env | {"COLUMNS": "160"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "answered 300" in out.stdout
    for words in (
        "churn: decision table revision 1 (2 rules) applied.",
        "2 alert rule(s) active",
        "Served 300 customers:",
        "Outcomes recorded for 150 customers",
        "Flag 1: prediction",
        "drift against customers@1",
        "accuracy (estimated)",
        'relay_predictions_total{mode="live",model="churn"',
    ):
        assert words in out.stdout, words
    assert "Traceback" not in out.stdout + out.stderr
    from relayml.predictions.reader import read_log

    logged = read_log(str(home / "artifacts" / "predictions")).to_pandas()
    assert len(logged) == 300 and set(logged["decision"]) <= {"call", "email", "no action"}
    backend = LocalBackend(get_settings(home=home))
    try:
        assert backend.get_model_version("churn", "churn@production").version == 1
    finally:
        backend.close()
