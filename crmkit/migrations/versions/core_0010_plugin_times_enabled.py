"""core: how many times each plugin was enabled (``plugin_state.times_enabled``).

Every plugin the database records was enabled at least once: existing rows get 1.

Revision ID: core_0010
Revises: core_0009
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0010"
down_revision = "core_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plugin_state", sa.Column("times_enabled", sa.Integer(), nullable=False,
                                            server_default="1"))
    # The default only fills the existing rows: crmkit always writes the count.
    # (SQLite cannot drop a column default without copying the table; it keeps it.)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("plugin_state", "times_enabled", server_default=None,
                        existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("plugin_state") as batch:
        batch.drop_column("times_enabled")
