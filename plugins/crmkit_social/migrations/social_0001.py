"""social: identities, mentions, referral codes, referrals.

Revision ID: social_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import BigIdType

revision = "social_0001"
down_revision = None
branch_labels = ("social",)
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "social_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("handle", sa.String(200), nullable=False),
        sa.Column("linked_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_social_identities_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_identities")),
        sa.UniqueConstraint("platform", "handle", name="uq_social_identities_platform_handle"),
    )
    op.create_index(op.f("ix_social_identities_customer_id"), "social_identities", ["customer_id"])

    op.create_table(
        "social_mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(50), nullable=False),
        sa.Column("post_id", sa.String(200), nullable=False),
        sa.Column("handle", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("posted_at", WHEN, nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("imported_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("alerted_at", WHEN, nullable=True),
        sa.Column("erased_at", WHEN, nullable=True),
        sa.Column("language", sa.String(10), nullable=True),
        sa.Column("unscored_reason", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_social_mentions_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_mentions")),
        sa.UniqueConstraint("platform", "post_id", name="uq_social_mentions_platform_post_id"),
    )
    op.create_index(op.f("ix_social_mentions_customer_id"), "social_mentions", ["customer_id"])
    op.create_index("ix_social_mentions_platform_handle", "social_mentions", ["platform", "handle"])
    op.create_index("ix_social_mentions_posted_at", "social_mentions", ["posted_at"])

    op.create_table(
        "social_referral_codes",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_social_referral_codes_customer_id_customers")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_social_referral_codes")),
    )
    op.create_index(op.f("ix_social_referral_codes_customer_id"), "social_referral_codes",
                    ["customer_id"])

    op.create_table(
        "social_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=False),
        sa.Column("referee_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("redeemed_at", WHEN, nullable=False),
        sa.Column("converted_at", WHEN, nullable=True),
        sa.Column("conversion_interaction_id", BigIdType,
                  nullable=True),
        sa.ForeignKeyConstraint(["referrer_id"], ["customers.id"],
                                name=op.f("fk_social_referrals_referrer_id_customers")),
        sa.ForeignKeyConstraint(["referee_id"], ["customers.id"],
                                name=op.f("fk_social_referrals_referee_id_customers")),
        sa.ForeignKeyConstraint(["conversion_interaction_id"], ["interactions.id"],
                                name=op.f("fk_social_referrals_conversion_interaction_id_interactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_referrals")),
        sa.UniqueConstraint("referee_id", name=op.f("uq_social_referrals_referee_id")),
    )
    op.create_index(op.f("ix_social_referrals_referrer_id"), "social_referrals", ["referrer_id"])


def downgrade() -> None:
    op.drop_table("social_referrals")
    op.drop_table("social_referral_codes")
    op.drop_table("social_mentions")
    op.drop_table("social_identities")
