"""campaigns' tables (each named ``campaigns_<thing>``, the plugin-table rule): campaigns,
their A/B variants, and one row per planned recipient.

A campaign's audience is planned set-based into ``campaigns_recipients`` (one row
per campaign and customer: planned, skipped with a reason, or held out); the
worker renders due planned rows into the core's ``messages`` and keeps the
Message-ID here.  Money is the core's ``Money`` (a Decimal; whole
ten-thousandths in the database).
"""

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Float, ForeignKey, Integer,
                        MetaData, String, Table, Text, UniqueConstraint)

from crmkit.plugin import NAMING, BigIdType as ID, JSONType, Money, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

STATUSES = ("draft", "scheduled", "running", "paused", "done")
"""A campaign's statuses."""

RECIPIENT_STATUSES = ("planned", "queued", "skipped", "held_out")
"""A recipient's statuses."""

campaigns = Table(
    "campaigns_campaigns", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("goal", Text),
    Column("channel", String(40), nullable=False),
    Column("audience", JSONType, nullable=False),
    Column("subject", Text),
    Column("template", Text, nullable=False),
    Column("holdout", Float, nullable=False),
    Column("cost_fixed", Money, nullable=False),
    Column("cost_per_message", Money, nullable=False),
    Column("schedule_at", UTCDateTime),
    Column("status", String(20), nullable=False),
    Column("attribution_days", Integer),
    Column("seed", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    CheckConstraint("holdout >= 0 AND holdout < 1", name="holdout_fraction"),
    CheckConstraint("cost_fixed >= 0", name="cost_fixed_not_negative"),
    CheckConstraint("cost_per_message >= 0", name="cost_per_message_not_negative"),
    CheckConstraint("status IN ('draft', 'scheduled', 'running', 'paused', 'done')",
                    name="status"),
)
"""Campaigns: audience ``{"segment": NAME}`` or ``{"if": CONDITION}``, the message, holdout,
costs, schedule and status; ``seed`` makes the holdout and variant draws stable."""

variants = Table(
    "campaigns_variants", metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns_campaigns.id"), primary_key=True),
    Column("name", String(20), primary_key=True),
    Column("share", Float, nullable=False),
    Column("subject", Text),
    Column("template", Text, nullable=False),
    CheckConstraint("share > 0 AND share <= 1", name="share"),
)
"""A/B variants of a campaign's message: the shares of the sent recipients add up to 1."""

recipients = Table(
    "campaigns_recipients", metadata,
    Column("id", ID, primary_key=True),
    Column("campaign_id", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("variant", String(20)),
    Column("holdout", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", String(100)),
    Column("message_id", String(250)),
    Column("planned_at", UTCDateTime, nullable=False),
    UniqueConstraint("campaign_id", "customer_id", name="uq_campaigns_recipients_campaign"),
    # Written with OR, not IN: SQLite evaluates a CHECK's IN list of more than two values
    # through a temporary index built for every row, a third of planning's insert time.
    CheckConstraint("status = 'planned' OR status = 'queued' OR status = 'skipped' "
                    "OR status = 'held_out'", name="status"),
)
"""One row per campaign and customer: planned (to render), queued (its message is in the core's
``messages``, ``message_id``), skipped (``reason``) or held out.

No foreign keys: planning writes the rows in one INSERT … SELECT from ``customers`` for the
campaign row it holds locked, so both references hold by construction (campaigns and
customers are never deleted; a merge moves the rows), and checking them row by row doubled
the time of planning a large audience."""

offers = Table(
    "campaigns_offers", metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns_campaigns.id"), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("value", Money, nullable=False),
    Column("currency", String(3)),
    Column("valid_days", Integer),
    Column("expires_at", UTCDateTime),
    Column("shared_code", String(60)),
    Column("max_uses", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('amount', 'percent')", name="kind"),
    CheckConstraint("value > 0", name="value_positive"),
)
"""A campaign's coupon offer: an amount or a percentage off, valid for days from issue or until
a date; a unique code per recipient (used once) or one shared code (once per customer, at
most ``max_uses`` in all)."""

coupons = Table(
    "campaigns_coupons", metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(60), nullable=False, unique=True),
    Column("campaign_id", Integer, ForeignKey("campaigns_campaigns.id"), index=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), index=True),
    Column("kind", String(10), nullable=False),
    Column("value", Money, nullable=False),
    Column("currency", String(3)),
    Column("expires_at", UTCDateTime),
    Column("max_uses", Integer),
    Column("uses", Integer, nullable=False),
    Column("source", String(200), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('amount', 'percent')", name="kind"),
)
"""Issued coupon codes: a campaign's (``campaign_id``) or a loyalty reward's (``source``);
``customer_id`` is the only customer who may use a unique code (NULL: a shared code);
``uses`` counts the redemptions (at most ``max_uses``; NULL: no limit)."""

redemptions = Table(
    "campaigns_redemptions", metadata,
    Column("id", ID, primary_key=True),
    Column("coupon_id", Integer, ForeignKey("campaigns_coupons.id"), nullable=False, index=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("interaction_id", ID, ForeignKey("interactions.id"), nullable=False, unique=True),
    Column("redeemed_at", UTCDateTime, nullable=False),
)
"""One row per purchase that redeemed a coupon (written in the purchase's transaction)."""

ALL = [campaigns, variants, recipients, offers, coupons, redemptions]
