"""`relay features`, run in-process on an embedded store: plan, apply (--yes, twice), list,
show, versions, check, promote, impact, and their errors as one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner, Result

from relayml.backend import LocalBackend
from relayml.cli import app as relay_app
from relayml.config import get_settings
from relayml.data.sources import log_dataset
from relayml.features import training_frame
from relayml.models.publish import log_model

runner = CliRunner()
_BOX = re.compile("[\u2500-\u257f]")

MODULE = """
from datetime import timedelta

import relayml as relay

F = relay.features
customer = F.Entity("customer", join_keys=["customer_id"])
profile = F.FeatureSet(
    name="customer",
    entity=customer,
    source=F.Source(dataset="customers"),
    features=[
        F.Feature("tenure", "int64", owner="ana", description="months as a customer"),
        F.Feature("spend", "float64", tags={"pii": "no"}),
    ],
    event_time="event_time",
    ttl=timedelta(days=TTL),
    checks=[{"column": "tenure", "min": 0}],
    owner="ana",
)
"""


def relay(*args: str) -> Result:
    """Run `relay ARGS` in-process."""
    return runner.invoke(relay_app, list(args))


def ok(*args: str) -> str:
    result = relay(*args)
    assert result.exit_code == 0, result.output
    return " ".join(_BOX.sub(" ", result.stdout).split())


def assert_error(result: Result, *fragments: str) -> None:
    """Exit code 1 and one 'Error: ...' line on stderr naming every fragment, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Project churn with a customers dataset; the CLI acts as alice in it."""
    for name in list(os.environ):
        if name.startswith("RELAY_") or name == "COLUMNS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RELAY_USER", "alice")
    monkeypatch.setenv("RELAY_PROJECT", "churn")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    backend: Any = LocalBackend(get_settings())
    backend.create_project("churn", business_question="Who leaves?")
    source = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_time": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-05"]),
            "tenure": [1, 2, 5],
            "spend": [10.0, 20.0, 50.0],
        }
    )
    log_dataset(backend, "churn", "customers", source)
    try:
        yield backend
    finally:
        backend.close()


def _module(tmp_path: Path, ttl: int) -> str:
    path = tmp_path / f"features_{uuid.uuid4().hex[:8]}.py"
    path.write_text(textwrap.dedent(MODULE).replace("TTL", str(ttl)))
    return str(path)


def test_apply_shows_the_plan_and_applying_twice_changes_nothing(
    backend: Any, tmp_path: Path
) -> None:
    module = _module(tmp_path, 30)
    plan = ok("features", "plan", module)
    assert "entity customer add new v1" in plan and "feature_set customer add new v1" in plan
    refused = relay("features", "apply", module)  # no terminal, no --yes: nothing applied
    assert_error(refused, "nothing applied: pass --yes")
    assert "Plan for project churn" in refused.stdout
    assert backend.list_feature_definitions("churn") == []
    assert "Applied to project churn" in ok("features", "apply", module, "--yes")
    again = ok("features", "apply", module, "--yes")
    assert "Nothing to apply: every definition is unchanged." in again
    changed = ok("features", "apply", _module(tmp_path, 60), "--yes")
    assert "feature_set customer change v1 -> v2 ~ ttl" in changed
    versions = ok("features", "versions", "customer")
    assert versions.index("v2") < versions.index("v1")
    shown = ok("features", "show", "customer", "--version", "1")
    assert "feature set customer@1" in shown and "P30D" in shown


def test_list_show_check_promote_and_impact(backend: Any, tmp_path: Path) -> None:
    ok("features", "apply", _module(tmp_path, 30), "--yes")
    listed = ok("features", "list")
    assert "customer feature_set v1 ana 2 - not run" in listed
    assert_error(relay("features", "promote", "customer", "--to", "staging"), "none has run")
    checked = ok("features", "check", "customer")
    assert "✓ tenure: at least 0" in checked and "3 rows, latest event 2024-01-10" in checked
    assert "customer@1 is in staging" in ok("features", "promote", "customer", "--to", "staging")
    entities = pd.DataFrame(
        {"customer_id": [1, 2], "event_time": pd.to_datetime(["2024-01-11", "2024-01-06"])}
    )
    frame = training_frame(
        entities, ["customer:tenure"], name="train", backend=backend, project="churn"
    )
    model = LogisticRegression().fit(frame[["tenure"]].astype(float), [0, 1])
    log_model(
        backend, "churn", model, "churn", frame[["tenure"]].astype(float), datasets=["train@1"]
    )
    shown = ok("features", "show", "customer")
    assert "environments staging v1" in shown and "freshness 2024-01-10" in shown
    assert "tenure int64 ana months as a customer churn/1" in shown
    assert "spend float64 ana pii=no -" in shown
    impact = ok("features", "impact", "customer:tenure")
    assert "training sets train@1" in impact and "models churn/1" in impact
    assert "No training set or model uses customer:spend" in ok(
        "features", "impact", "customer:spend"
    )
    listed = ok("features", "list")
    assert "staging v1 passed (v1" in listed and "2024-01-10" in listed


def test_errors_are_one_line(backend: Any, tmp_path: Path) -> None:
    assert_error(relay("features", "apply", "nope.py", "--yes"), "not a Python file")
    bad = tmp_path / "bad.py"
    bad.write_text("import relayml as relay\nx = relay.features.Entity('c', join_keys=['a b'])\n")
    assert_error(relay("features", "plan", str(bad)), "join_keys", "must be an identifier")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert_error(relay("features", "plan", str(empty)), "declares no Entity")
    ok("features", "apply", _module(tmp_path, 30), "--yes")
    assert_error(relay("features", "show", "custmer"), "does not exist", "Did you mean customer")
    assert_error(
        relay("features", "impact", "customer:tenur"), "no feature 'tenur'", "customer:tenure"
    )
    assert_error(relay("features", "promote", "customer", "--to", "prod"), "unknown environment")


def test_materialize_then_look_up_online(backend: Any, tmp_path: Path) -> None:
    ok("features", "apply", _module(tmp_path, 30), "--yes")
    ok("features", "check", "customer")
    ok("features", "promote", "customer", "--to", "staging")
    done = ok("features", "materialize", "customer", "--env", "staging")
    assert "rewrote 2 entities of customer@1 in staging (2 online; latest event 2024-01-10" in done
    again = ok("features", "materialize", "customer", "--env", "staging")
    assert "updated 1 entities of customer@1 in staging (2 online" in again  # only the newest
    found = json.loads(relay("features", "online", "customer", "1", "9", "--env", "staging",
                             "--json").stdout)  # fmt: skip
    one, nine = found["rows"]
    assert one["values"] == {"tenure": None, "spend": None}  # 2024's values are past their TTL
    assert one["missing"]["tenure"].startswith("past its TTL")
    assert nine["missing"]["spend"] == "no value for this entity in the online table"
    assert ok("features", "online", "customer", "1", "--env", "staging").startswith("customer@1")
    assert_error(relay("features", "online", "customer", "1"), "no version in production")
    assert_error(relay("features", "materialize", "customer", "--env", "qa"), "unknown environment")


def test_the_join_cache_is_shown_and_pruned(backend: Any, tmp_path: Path) -> None:
    cache = tmp_path / "home" / "cache" / "features"
    assert "the cache at" in ok("features", "cache") and "is empty" in ok("features", "cache")
    ok("features", "apply", _module(tmp_path, 30), "--yes")
    entities = pd.DataFrame(
        {"customer_id": [1, 2], "event_time": pd.to_datetime(["2024-01-11", "2024-01-06"])}
    )
    training_frame(entities, ["customer:spend"], backend=backend, project="churn", name=None)
    (joined,) = [p for p in cache.iterdir()]
    # a folder of an older layout, a killed writer's leftover, and one read 40 days ago
    old = cache / "0ld"
    old.mkdir()
    (old / "manifest.json").write_text('{"format": 1}')
    left = cache / f".{joined.name}.abc.tmp"
    left.mkdir()
    idle = cache / "idle"
    shutil.copytree(joined, idle)
    days_ago = time.time() - 40 * 86_400
    for path in (left, idle / "manifest.json"):
        os.utime(path, (days_ago, days_ago))
    shown = {e["name"]: e for e in json.loads(relay("features", "cache", "--json").stdout)}
    assert {n: e["state"] for n, e in shown.items()} == {
        joined.name: "current", "0ld": "old format", left.name: "unfinished", "idle": "current"
    }  # fmt: skip
    assert shown[joined.name]["bytes"] > 0 and shown["idle"]["idle_days"] >= 39.9
    listed = ok("features", "cache")
    assert "4 folder(s)" in listed and "old format" in listed
    # a dry run removes nothing; a prune removes the old layout and the leftover only
    assert "would remove 2 folder(s)" in ok("features", "cache", "--prune", "--dry-run")
    assert len(list(cache.iterdir())) == 4
    assert "removed 2 folder(s)" in ok("features", "cache", "--prune")
    assert sorted(p.name for p in cache.iterdir()) == sorted([joined.name, "idle"])
    # a join reads its folder again, which marks it used; the idle copy is not read
    os.utime(joined / "manifest.json", (days_ago, days_ago))
    training_frame(entities, ["customer:spend"], backend=backend, project="churn", name=None)
    assert "removed 1 folder(s)" in ok("features", "cache", "--prune", "--unused-days", "30")
    assert [p.name for p in cache.iterdir()] == [joined.name]
    assert_error(relay("features", "cache", "--unused-days", "3"), "go with --prune")
