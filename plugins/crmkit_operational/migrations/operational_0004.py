"""operational: the scoring hits' coverage row names the times the plugin was enabled, not the
newest interaction a batch saw (which every batch had to move, one row every writer waited on).

The row is dropped with the old table: the first batch after the upgrade forgets every lead's
hits, which are then computed from the interactions, once.

Revision ID: operational_0004
Revises: operational_0003
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import BigIdType as ID_TYPE

revision = "operational_0004"
down_revision = "operational_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("operational_score_coverage")
    op.create_table(
        "operational_score_coverage",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("times_enabled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_score_coverage")))


def downgrade() -> None:
    op.drop_table("operational_score_coverage")
    op.create_table(
        "operational_score_coverage",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("through_id", ID_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_operational_score_coverage")))
