"""relbadmig: a table that migrates fine.

Revision ID: relbadmig_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "relbadmig_0001"
down_revision = None
branch_labels = ("relbadmig",)
depends_on = None


def upgrade() -> None:
    op.create_table("relbadmig_things", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("label", sa.String(50)))
    op.execute("INSERT INTO relbadmig_things (id, label) VALUES (1, 'first')")


def downgrade() -> None:
    op.drop_table("relbadmig_things")
