"""relcheck: reacts, counts, profiles.

Revision ID: relcheck_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "relcheck_0001"
down_revision = None
branch_labels = ("relcheck",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "relcheck_reacts",
        sa.Column("interaction_id", ID, sa.ForeignKey("interactions.id"), primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False,
                  index=True),
        sa.Column("batch_first", ID, nullable=False),
        sa.Column("batch_last", ID, nullable=False),
    )
    op.create_table(
        "relcheck_counts",
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("reacts", sa.Integer, nullable=False),
    )
    op.create_table(
        "relcheck_profiles",
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("name", sa.String(300)),
        sa.Column("email", sa.String(320)),
    )


def downgrade() -> None:
    op.drop_table("relcheck_profiles")
    op.drop_table("relcheck_counts")
    op.drop_table("relcheck_reacts")
