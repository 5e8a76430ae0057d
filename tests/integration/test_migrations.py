"""Databases made by an older relayml upgrade with their data intact."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

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

    from relayml.store import schema_monitoring, schema_serving  # noqa: F401  (their tables)
    from relayml.store.schema import metadata

    store = Store(store_url_or_fresh, migrate=True)
    with store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.dispose()
    assert diff == [], "the tables in schema*.py and the migrations differ; add a migration"
