"""campaigns: campaigns, A/B variants, planned recipients.

Revision ID: campaigns_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "campaigns_0001"
down_revision = None
branch_labels = ("campaigns",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("goal", sa.Text),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("audience", JSON, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("holdout", sa.Float, nullable=False),
        sa.Column("cost_fixed", sa.BigInteger, nullable=False),
        sa.Column("cost_per_message", sa.BigInteger, nullable=False),
        sa.Column("schedule_at", TIME),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attribution_days", sa.Integer),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("name", name="uq_campaigns_name"),
        sa.CheckConstraint("holdout >= 0 AND holdout < 1", name="ck_campaigns_holdout_fraction"),
        sa.CheckConstraint("cost_fixed >= 0", name="ck_campaigns_cost_fixed_not_negative"),
        sa.CheckConstraint("cost_per_message >= 0",
                           name="ck_campaigns_cost_per_message_not_negative"),
        sa.CheckConstraint("status IN ('draft', 'scheduled', 'running', 'paused', 'done')",
                           name="ck_campaigns_status"),
    )
    op.create_table(
        "campaign_variants",
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("share", sa.Float, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("template", sa.Text, nullable=False),
        sa.CheckConstraint("share > 0 AND share <= 1", name="ck_campaign_variants_share"),
    )
    op.create_table(
        "campaign_recipients",
        sa.Column("id", ID, primary_key=True),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("variant", sa.String(20)),
        sa.Column("holdout", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(100)),
        sa.Column("message_id", sa.String(250)),
        sa.Column("planned_at", TIME, nullable=False),
        sa.UniqueConstraint("campaign_id", "customer_id", name="uq_campaign_recipients_campaign"),
        sa.CheckConstraint("status = 'planned' OR status = 'queued' OR status = 'skipped' "
                           "OR status = 'held_out'", name="ck_campaign_recipients_status"),
    )
    op.create_index("ix_campaign_recipients_customer_id", "campaign_recipients", ["customer_id"])


def downgrade() -> None:
    op.drop_table("campaign_recipients")
    op.drop_table("campaign_variants")
    op.drop_table("campaigns")
