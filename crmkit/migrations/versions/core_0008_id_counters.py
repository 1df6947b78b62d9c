"""core: SQLite's per-table id high-water marks, so that a deleted row's id is never given again.

Revision ID: core_0008
Revises: core_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0008"
down_revision = "core_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("id_counters",
                    sa.Column("table_name", sa.String(length=100), nullable=False),
                    sa.Column("last_id", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("table_name", name=op.f("pk_id_counters")))


def downgrade() -> None:
    op.drop_table("id_counters")
