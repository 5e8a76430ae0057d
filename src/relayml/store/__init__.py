"""Persistence of metadata: SQLAlchemy Core on SQLite or PostgreSQL, migrated by Alembic."""

from relayml.domain.clock import now_ms
from relayml.store.engine import HEAD_REVISION, Store

__all__ = ["HEAD_REVISION", "Store", "now_ms"]
