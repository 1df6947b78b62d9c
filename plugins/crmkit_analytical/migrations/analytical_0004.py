"""analytical: RFM scores stored by the sweep (``rfm.store_on_sweep``), read by the customer
360 card instead of scoring the customer among every other on each view.

Revision ID: analytical_0004
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import JSONType as JSON

revision = "analytical_0004"
down_revision = "analytical_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytical_rfm_sweep",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "analytical_rfm_scores",
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("last_day", sa.Integer, nullable=False),
        sa.Column("frequency", sa.Integer, nullable=False),
        sa.Column("net", sa.BigInteger, nullable=False),
        sa.Column("r", sa.SmallInteger, nullable=False),
        sa.Column("f", sa.SmallInteger, nullable=False),
        sa.Column("m", sa.SmallInteger, nullable=False),
        sa.Column("segment", sa.String(60)),
    )


def downgrade() -> None:
    op.drop_table("analytical_rfm_scores")
    op.drop_table("analytical_rfm_sweep")
