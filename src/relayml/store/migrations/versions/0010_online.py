"""online: the feature store's online table (the latest value per entity, per environment)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_online",
        sa.Column("def_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=50), nullable=False),
        sa.Column("entity_key", sa.String(length=500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("event_at", sa.BigInteger(), nullable=False),
        sa.Column("materialized_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["def_id"], ["feature_defs.id"], name=op.f("fk_feature_online_def_id_feature_defs")
        ),
        sa.PrimaryKeyConstraint(
            "def_id", "environment", "entity_key", name=op.f("pk_feature_online")
        ),
    )


def downgrade() -> None:
    op.drop_table("feature_online")
