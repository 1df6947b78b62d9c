"""campaigns: coupon offers, issued coupons and their redemptions.

Revision ID: campaigns_0002
Revises: campaigns_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "campaigns_0002"
down_revision = "campaigns_0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns_offers",
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("valid_days", sa.Integer),
        sa.Column("expires_at", TIME),
        sa.Column("shared_code", sa.String(60)),
        sa.Column("max_uses", sa.Integer),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("kind IN ('amount', 'percent')", name="ck_campaigns_offers_kind"),
        sa.CheckConstraint("value > 0", name="ck_campaigns_offers_value_positive"),
    )
    op.create_table(
        "campaigns_coupons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id")),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("expires_at", TIME),
        sa.Column("max_uses", sa.Integer),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("issued_at", TIME, nullable=False),
        sa.UniqueConstraint("code", name="uq_campaigns_coupons_code"),
        sa.CheckConstraint("kind IN ('amount', 'percent')", name="ck_campaigns_coupons_kind"),
    )
    op.create_index("ix_campaigns_coupons_campaign_id", "campaigns_coupons", ["campaign_id"])
    op.create_index("ix_campaigns_coupons_customer_id", "campaigns_coupons", ["customer_id"])
    op.create_table(
        "campaigns_redemptions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("coupon_id", sa.Integer, sa.ForeignKey("campaigns_coupons.id"), nullable=False),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("interaction_id", ID, sa.ForeignKey("interactions.id"), nullable=False),
        sa.Column("redeemed_at", TIME, nullable=False),
        sa.UniqueConstraint("interaction_id", name="uq_campaigns_redemptions_interaction_id"),
    )
    op.create_index("ix_campaigns_redemptions_coupon_id", "campaigns_redemptions", ["coupon_id"])
    op.create_index("ix_campaigns_redemptions_customer_id", "campaigns_redemptions",
                    ["customer_id"])


def downgrade() -> None:
    op.drop_table("campaigns_redemptions")
    op.drop_table("campaigns_coupons")
    op.drop_table("campaigns_offers")
