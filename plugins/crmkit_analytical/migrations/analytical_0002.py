"""analytical: kept CLV model fits (``crmkit analytical clv fit``), for the customer card.

Revision ID: analytical_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "analytical_0002"
down_revision = "analytical_0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "analytical_clv_fits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("time_unit", sa.String(10), nullable=False),
        sa.Column("bgnbd", JSON, nullable=False),
        sa.Column("gamma_gamma", JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("analytical_clv_fits")
