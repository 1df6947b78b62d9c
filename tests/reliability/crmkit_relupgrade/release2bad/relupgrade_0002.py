"""relupgrade broken release 2: alters the table, clobbers data, then fails.

Revision ID: relupgrade_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "relupgrade_0002"
down_revision = "relupgrade_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("relupgrade_notes", sa.Column("body_length", sa.Integer))
    op.execute("UPDATE relupgrade_notes SET body = 'clobbered'")
    op.execute("UPDATE customers SET name = 'clobbered by relupgrade'")
    op.execute("INSERT INTO no_such_table_xyz (id) VALUES (1)")  # fails: no such table


def downgrade() -> None:
    with op.batch_alter_table("relupgrade_notes") as batch:
        batch.drop_column("body_length")
