"""broken: notes.

Revision ID: broken_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "broken_0001"
down_revision = None
branch_labels = ("broken",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broken_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    pass  # fault 3: the table is left behind
