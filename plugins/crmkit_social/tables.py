"""social's tables: identities, mentions, referral codes and referrals."""

from sqlalchemy import (Column, Float, ForeignKey, Index, Integer, MetaData, String,
                        Table, Text, UniqueConstraint)

from crmkit.plugin import NAMING, BigIdType, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

identities = Table(
    "social_identities", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("platform", String(50), nullable=False),
    Column("handle", String(200), nullable=False),
    Column("linked_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "handle", name="uq_social_identities_platform_handle"),
)
"""A customer's handle on a platform; (platform, normalised handle) is unique."""

mentions = Table(
    "social_mentions", metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(50), nullable=False),
    Column("post_id", String(200), nullable=False),
    Column("handle", String(200), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), index=True),
    Column("text", Text),
    Column("posted_at", UTCDateTime, nullable=False),
    Column("likes", Integer, nullable=False),
    Column("comments", Integer, nullable=False),
    Column("shares", Integer, nullable=False),
    Column("sentiment", Float),
    Column("language", String(10)),
    Column("unscored_reason", String(200)),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("alerted_at", UTCDateTime),
    Column("erased_at", UTCDateTime),
    UniqueConstraint("platform", "post_id", name="uq_social_mentions_platform_post_id"),
    Index("ix_social_mentions_platform_handle", "platform", "handle"),
    Index("ix_social_mentions_posted_at", "posted_at"),
)
"""A post mentioning the business.

``sentiment`` is the score in [-1, 1] of the analyser for the text's detected
``language``; NULL with ``unscored_reason`` when no analyser handles it.
"""

referral_codes = Table(
    "social_referral_codes", metadata,
    Column("code", String(32), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)
"""Referral codes; a customer has one (more only after a merge)."""

referrals = Table(
    "social_referrals", metadata,
    Column("id", Integer, primary_key=True),
    Column("referrer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("referee_id", Integer, ForeignKey("customers.id"), nullable=False, unique=True),
    Column("code", String(32)),
    Column("redeemed_at", UTCDateTime, nullable=False),
    Column("converted_at", UTCDateTime),
    Column("conversion_interaction_id", BigIdType,
           ForeignKey("interactions.id")),
)
"""A redeemed code: the referee is linked to the referrer once; converted at the first purchase."""

ALL = [identities, mentions, referral_codes, referrals]
