"""loyalty: members, ledger, lot uses, rewards, milestones, referrals.

Revision ID: loyalty_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import BigIdType as ID

revision = "loyalty_0001"
down_revision = None
branch_labels = ("loyalty",)
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "loyalty_members",
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("joined_at", TIME, nullable=False),
        sa.Column("tier", sa.String(60)),
        sa.Column("tier_since", TIME),
        sa.Column("review_at", TIME, nullable=False),
        sa.Column("purchases", sa.Integer, nullable=False),
        sa.Column("owed", sa.Integer, nullable=False),
        sa.Column("qualifying_ceiling", sa.BigInteger),
        sa.Column("ceiling_from", TIME),
    )
    op.create_table(
        "loyalty_rewards",
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("stock", sa.Integer),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("points > 0", name="ck_loyalty_rewards_points_positive"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0",
                           name="ck_loyalty_rewards_stock_not_negative"),
    )
    op.create_table(
        "loyalty_ledger",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("type", sa.String(10), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("owed_change", sa.Integer, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("interaction_id", ID, sa.ForeignKey("interactions.id")),
        sa.Column("related_id", ID, sa.ForeignKey("loyalty_ledger.id")),
        sa.Column("reward_code", sa.String(60)),
        sa.Column("expires_at", TIME),
        sa.Column("available_at", TIME),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.CheckConstraint("type IN ('earn', 'spend', 'expire', 'adjust', 'reverse')",
                           name="ck_loyalty_ledger_type"),
    )
    op.create_index("ix_loyalty_ledger_customer_id", "loyalty_ledger", ["customer_id"])
    op.create_table(
        "loyalty_lot_uses",
        sa.Column("id", ID, primary_key=True),
        sa.Column("ledger_id", ID, sa.ForeignKey("loyalty_ledger.id"), nullable=False),
        sa.Column("lot_id", ID, sa.ForeignKey("loyalty_ledger.id"), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.CheckConstraint("points > 0", name="ck_loyalty_lot_uses_points_positive"),
    )
    op.create_index("ix_loyalty_lot_uses_lot_id", "loyalty_lot_uses", ["lot_id"])
    op.create_table(
        "loyalty_milestones",
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("count", sa.Integer, primary_key=True),
        sa.Column("ledger_id", ID, sa.ForeignKey("loyalty_ledger.id"), nullable=False),
        sa.Column("reached_at", TIME, nullable=False),
    )
    op.create_table(
        "loyalty_referrals",
        sa.Column("referee_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("referrer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("ledger_id", ID, sa.ForeignKey("loyalty_ledger.id"), nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index("ix_loyalty_referrals_referrer_id", "loyalty_referrals", ["referrer_id"])


def downgrade() -> None:
    for name in ("loyalty_referrals", "loyalty_milestones", "loyalty_lot_uses",
                 "loyalty_ledger", "loyalty_rewards", "loyalty_members"):
        op.drop_table(name)
