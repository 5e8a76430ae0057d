"""deleted: runs and experiments can be deleted and restored (deleted_at, epoch ms)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("experiments", sa.Column("deleted_at", sa.BigInteger(), nullable=True))
    op.add_column("runs", sa.Column("deleted_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("deleted_at")
