"""loyalty's tables: members, the append-only ledger, lot uses, rewards, milestones, referrals.

The ledger is the truth: a member's balance is the sum of its ``points``, what
they owe is the sum of ``owed_change``.  Rows with positive points are *lots*
(:data:`IS_LOT`); every debit (spend, expire, reverse, negative adjust) records
which lots it consumed in ``loyalty_lot_uses``, and an ``expire`` row of positive
points gives back to the lot it names what an expiry took (a negative use), so a
lot's remaining points are its points minus its uses, and nothing in the ledger
is ever updated or deleted.
"""

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, ForeignKey, Index, Integer,
                        MetaData, String, Table, and_)

from crmkit.plugin import NAMING, BigIdType, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

QUALIFYING_SOURCES = ("purchase", "milestone", "referral", "refund")
"""The sources whose rows count towards tiers on the ``points`` basis (points − owed_change)."""

members = Table(
    "loyalty_members", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("tier", String(60)),
    Column("tier_since", UTCDateTime),
    Column("review_at", UTCDateTime, nullable=False),
    Column("purchases", Integer, nullable=False, default=0),
    Column("owed", Integer, nullable=False, default=0),
    Column("qualifying_ceiling", BigInteger),
    Column("ceiling_from", UTCDateTime),
)
"""One row per member: tier, next review date, purchase count, and the lock row for spending.

``owed`` caches the sum of the member's ledger ``owed_change`` (tests prove they agree).
``qualifying_ceiling`` is at least the member's qualifying points in any tier window
starting at or after ``ceiling_from`` (NULL: not known); see :mod:`.ceiling`.
"""

MAX_POINTS = 2**31 - 1
"""The most points one ledger entry holds (``points`` is a 32-bit integer on PostgreSQL)."""
REASON_WIDTH = 300
"""The widest ledger reason (a hand adjustment's, lower if the core config's
``max_field_length`` is)."""
REWARD_CODE_WIDTH = 60
"""The widest reward code (lower if the core config's ``max_field_length`` is)."""
REWARD_NAME_WIDTH = 200
"""The widest reward name (lower if the core config's ``max_field_length`` is)."""

ledger = Table(
    "loyalty_ledger", metadata,
    Column("id", BigIdType, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("type", String(10), nullable=False),
    Column("points", Integer, nullable=False),
    Column("owed_change", Integer, nullable=False, default=0),
    Column("source", String(20), nullable=False),
    Column("reason", String(REASON_WIDTH), nullable=False),
    Column("interaction_id", BigIdType, ForeignKey("interactions.id")),
    Column("related_id", BigIdType, ForeignKey("loyalty_ledger.id")),
    Column("reward_code", String(60)),
    Column("expires_at", UTCDateTime),
    Column("available_at", UTCDateTime),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    CheckConstraint("type IN ('earn', 'spend', 'expire', 'adjust', 'reverse')", name="type"),
    # narrow on purpose: every purchase writes an entry at a random place in it
    Index("ix_loyalty_ledger_customer_id", "customer_id"),
)
"""The append-only points ledger (signed integer points).

``source`` says what wrote the row (``purchase``, ``milestone``, ``referral``,
``refund``, ``owed``, ``reward``, ``expiry`` or ``manual``); ``interaction_id`` is the
interaction it came from (a purchase, a refund); ``related_id`` the ledger row it
answers (the purchase earning a refund reverses, the lot an expiry empties, the
expire row an expiry give-back reverses).
"""

IS_LOT = and_(ledger.c.points > 0, ledger.c.type != "expire")
"""SQL: a ledger row is a lot (it adds points; an ``expire`` row with positive points gives
back to a lot what an expiry took from it, and is no lot itself)."""

lot_uses = Table(
    "loyalty_lot_uses", metadata,
    Column("id", BigIdType, primary_key=True),
    Column("ledger_id", BigIdType, ForeignKey("loyalty_ledger.id"), nullable=False),
    Column("lot_id", BigIdType, ForeignKey("loyalty_ledger.id"), nullable=False, index=True),
    Column("points", Integer, nullable=False),
    CheckConstraint("points <> 0", name="points_not_zero"),
)
"""Which lot each debit consumed, and how many of its points (append-only); negative points:
what an expiry give-back returned to the lot."""

rewards = Table(
    "loyalty_rewards", metadata,
    Column("code", String(REWARD_CODE_WIDTH), primary_key=True),
    Column("name", String(REWARD_NAME_WIDTH), nullable=False),
    Column("points", Integer, nullable=False),
    Column("stock", Integer),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("points > 0", name="points_positive"),
    CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
)
"""The rewards catalogue; ``stock`` NULL means unlimited."""

milestones = Table(
    "loyalty_milestones", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("count", Integer, primary_key=True),
    Column("ledger_id", BigIdType, ForeignKey("loyalty_ledger.id"), nullable=False),
    Column("reached_at", UTCDateTime, nullable=False),
)
"""Milestone bonuses awarded (one row per member and count: never twice)."""

referrals = Table(
    "loyalty_referrals", metadata,
    Column("referee_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("referrer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("ledger_id", BigIdType, ForeignKey("loyalty_ledger.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
"""Referral bonuses awarded (one per referee)."""

ALL = [members, ledger, lot_uses, rewards, milestones, referrals]
