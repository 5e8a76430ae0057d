"""Persistence of metadata: SQLAlchemy Core on SQLite or PostgreSQL, migrated by Alembic."""

from relayml.store.engine import HEAD_REVISION, Store, now_ms

__all__ = ["HEAD_REVISION", "Store", "now_ms"]
