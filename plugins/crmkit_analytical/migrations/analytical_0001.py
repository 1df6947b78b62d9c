"""analytical: segments, lifecycle stages, CLV runs and predictions.

Revision ID: analytical_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import JSONType as JSON

revision = "analytical_0001"
down_revision = None
branch_labels = ("analytical",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytical_segments",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("description", sa.String(500)),
        sa.Column("condition", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
    )
    op.create_table(
        "analytical_lifecycle",
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("previous_stage", sa.String(20)),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "analytical_clv_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("bgnbd", JSON, nullable=False),
        sa.Column("gamma_gamma", JSON, nullable=False),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("total_clv", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "analytical_clv_predictions",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("analytical_clv_runs.id"), primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("frequency", sa.Integer, nullable=False),
        sa.Column("recency", sa.Float, nullable=False),
        sa.Column("age", sa.Float, nullable=False),
        sa.Column("monetary", sa.BigInteger, nullable=False),
        sa.Column("p_alive", sa.Float, nullable=False),
        sa.Column("expected_purchases", sa.Float, nullable=False),
        sa.Column("expected_spend", sa.BigInteger, nullable=False),
        sa.Column("clv", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_analytical_clv_predictions_customer", "analytical_clv_predictions",
                    ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_analytical_clv_predictions_customer", "analytical_clv_predictions")
    op.drop_table("analytical_clv_predictions")
    op.drop_table("analytical_clv_runs")
    op.drop_table("analytical_lifecycle")
    op.drop_table("analytical_segments")
