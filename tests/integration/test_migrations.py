"""Databases made by an older relayml upgrade with their data intact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.store import HEAD_REVISION, Store
from relayml.store.engine import MIGRATIONS


def _upgrade_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, revision)


def test_a_0001_database_with_data_upgrades_to_head(store_url_or_fresh: str) -> None:
    url = store_url_or_fresh
    _upgrade_to(url, "0001")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (name, description, business_question, owner, created_at) "
                "VALUES ('old', '', 'kept?', 'me', 1)"
            )
        )
    engine.dispose()
    store = Store(url, migrate=True)
    assert store.revision_at_open == "0001"
    assert store.current_revision() == HEAD_REVISION
    with store.read() as conn:
        question = conn.execute(text("SELECT business_question FROM projects")).scalar()
        tables = conn.execute(text("SELECT count(*) FROM registered_models")).scalar()
    assert question == "kept?" and tables == 0
    store.dispose()


def test_the_migrations_build_exactly_the_declared_tables(store_url_or_fresh: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from relayml.store import (  # noqa: F401  (their tables)
        schema_features,
        schema_identity,
        schema_monitoring,
        schema_schedules,
        schema_serving,
    )
    from relayml.store.schema import metadata

    store = Store(store_url_or_fresh, migrate=True)
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.dispose()
    assert diff == [], "the tables in schema*.py and the migrations differ; add a migration"


# Databases written by past releases (tests/fixtures/migrations/build.py, run with each release's
# code): each is upgraded to head by today's code; every row survives and today's reads work.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"
OLD_HEADS = sorted(path.stem for path in FIXTURES.glob("*.db"))


def test_there_is_an_old_database_for_every_past_head() -> None:
    from relayml.store.engine import MIGRATIONS

    heads = sorted(path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert heads == OLD_HEADS, (
        "each migration head needs a database made by its release: run "
        "tests/fixtures/migrations/build.py with that release's code"
    )


@pytest.mark.parametrize("head", OLD_HEADS)
def test_a_database_made_by_an_old_release_upgrades_with_its_rows(
    head: str, tmp_path: Path
) -> None:
    expected = json.loads((FIXTURES / f"{head}.json").read_text())
    assert expected.pop("_head") == head
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(FIXTURES / f"{head}.db", home / "relay.db")
    url = f"sqlite:///{home / 'relay.db'}"

    store = Store(url, migrate=True)
    assert store.revision_at_open == head
    assert store.current_revision() == HEAD_REVISION
    with store.read() as conn:
        for table, rows in expected.items():
            assert conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar() == rows, table
    store.dispose()

    backend = LocalBackend(get_settings(home=home))
    try:
        _reads_work(backend, int(head))
    finally:
        backend.close()


def _reads_work(backend: LocalBackend, head: int) -> None:
    """What each release wrote reads back through today's backend."""
    project = backend.get_project("churn")
    assert project.business_question == "reduce customer churn by 10%"
    assert [k.name for k in project.kpis] == ["churn_rate"]
    page = backend.search_runs(
        "churn", filter="params.max_depth = 3", order_by=["metrics.auc DESC"]
    )
    assert len(page.runs) == 1 and page.runs[0].metrics["auc"] == pytest.approx(0.73)
    assert page.runs[0].tags["team"] == "growth"
    history = backend.get_metric_history(page.runs[0].id, "loss")
    assert [point.step for point in history] == [0, 1, 2]
    assert [a.path for a in backend.list_artifacts(page.runs[0].id)] == ["notes.txt"]
    assert backend.list_audit(limit=1000)
    if head < 2:
        return
    assert [v.version for v in backend.list_model_versions("churn", "churn")] == [2, 1]
    assert backend.get_model_version("churn", "churn@production").version == 2
    story = backend.model_history("churn", "churn")
    assert [(p.environment, p.status) for p in story.promotions] == [
        ("staging", "PROMOTED"),
        ("production", "PROMOTED"),
    ]
    assert story.promotions[1].approvals[0].user == "rita"
    assert backend.list_evaluations("churn", "churn/2")[0].metrics["roc_auc"] > 0.5
    if head < 3:
        return
    datasets = sorted(d.name for d in backend.list_datasets("churn"))
    assert datasets == sorted(["customers", "holdout"] + (["customer_events"] if head >= 8 else []))
    assert backend.list_data_checks("churn", "customers@1")
    graph = backend.lineage("dataset_version", "churn/customers@1", direction="downstream")
    assert graph.nodes
    if head < 4:
        return
    (deployment,) = backend.list_deployments("churn")
    assert deployment.strategy == "canary"
    # the build of 0008 on stores the variant of the version holding production as its alias
    holder = None if head >= 8 else 2
    assert [(v.version, v.weight) for v in deployment.variants] == [(holder, 90.0), (1, 10.0)]
    if head < 5:
        return
    (flag,) = backend.list_flags("churn")
    assert flag.kind == "wrong" and flag.comment == "loyal"
    assert [rule.name for rule in backend.list_alert_rules("churn")] == [
        "prices moved",
        "any traffic",
    ]
    assert backend.get_decision_table("churn", "churn").revision == 1
    if head < 6:
        assert all(e.deleted_at is None for e in backend.list_experiments("churn"))
        return
    assert [e.name for e in backend.list_experiments("churn")] == ["baseline"]
    (abandoned,) = backend.search_runs(
        "churn", filter="params.max_depth = 9", include_deleted=True
    ).runs
    assert abandoned.deleted_at is not None and abandoned.experiment == "abandoned"
    assert backend.get_experiment("churn", "abandoned").deleted_at is not None
    if head < 8:
        return
    staged = backend.get_feature_definition(
        "churn", "feature_set", "customer", environment="staging"
    )
    assert (staged.version, staged.latest_version) == (2, 2)
    assert backend.list_feature_checks("churn", "customer")[0].passed
    if head < 11:
        return
    assert [s.name for s in backend.list_schedules("churn")] == ["nightly", "on-data"]
    (firing,) = backend.get_schedule("churn", "on-data").firings
    assert firing.reason.startswith("dataset version customers@2 logged by rita")
