"""relbadmig: alters the core table, fills a column, then fails.

Revision ID: relbadmig_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "relbadmig_0002"
down_revision = "relbadmig_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("relbadmig_things", sa.Column("size", sa.Integer))
    op.execute("UPDATE relbadmig_things SET size = 1")
    op.execute("UPDATE customers SET name = 'clobbered by relbadmig'")
    op.execute("INSERT INTO no_such_table_xyz (id) VALUES (1)")  # fails: no such table


def downgrade() -> None:
    op.drop_column("relbadmig_things", "size")
