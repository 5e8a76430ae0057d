"""features: the feature store's registry (definitions, versions, environments, checks)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feature_defs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_feature_defs_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_defs")),
        sa.UniqueConstraint(
            "project_id", "kind", "name", name=op.f("uq_feature_defs_project_id_kind_name")
        ),
    )
    op.create_table(
        "feature_def_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("def_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["def_id"],
            ["feature_defs.id"],
            name=op.f("fk_feature_def_versions_def_id_feature_defs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_def_versions")),
        sa.UniqueConstraint(
            "def_id", "version", name=op.f("uq_feature_def_versions_def_id_version")
        ),
    )
    op.create_table(
        "feature_stages",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("def_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["def_id"], ["feature_defs.id"], name=op.f("fk_feature_stages_def_id_feature_defs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_stages")),
    )
    op.create_index(op.f("ix_feature_stages_def_id"), "feature_stages", ["def_id"], unique=False)
    op.create_table(
        "feature_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("def_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("latest_event_at", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["def_id"], ["feature_defs.id"], name=op.f("fk_feature_checks_def_id_feature_defs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_checks")),
    )
    op.create_index(op.f("ix_feature_checks_def_id"), "feature_checks", ["def_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_feature_checks_def_id"), table_name="feature_checks")
    op.drop_table("feature_checks")
    op.drop_index(op.f("ix_feature_stages_def_id"), table_name="feature_stages")
    op.drop_table("feature_stages")
    op.drop_table("feature_def_versions")
    op.drop_table("feature_defs")
