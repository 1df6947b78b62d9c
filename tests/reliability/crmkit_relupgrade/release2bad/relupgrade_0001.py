"""relupgrade release 1: customer notes.

Revision ID: relupgrade_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "relupgrade_0001"
down_revision = None
branch_labels = ("relupgrade",)
depends_on = None


def upgrade() -> None:
    op.create_table("relupgrade_notes", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"),
                              nullable=False),
                    sa.Column("body", sa.String(200), nullable=False))


def downgrade() -> None:
    op.drop_table("relupgrade_notes")
