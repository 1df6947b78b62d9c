"""testvendor: counts and notes.

Revision ID: testvendor_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "testvendor_0001"
down_revision = None
branch_labels = ("testvendor",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "testvendor_counts",
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("purchases", sa.Integer, nullable=False),
    )
    op.create_table(
        "testvendor_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False,
                  index=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("author_email", sa.String(320)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("testvendor_notes")
    op.drop_table("testvendor_counts")
