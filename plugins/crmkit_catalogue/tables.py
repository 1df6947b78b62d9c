"""catalogue's tables: the category tree, products, purchases' line items, saved offer lists.

Line items are copied from purchases' ``payload.items`` when the purchase is
written, with the product's unit cost at that moment, so margins stay as they
were when a cost changes later; profit and baskets are SQL over this table.
Money of line items is kept in integer money units (1/``MONEY_SCALE``) for
exact sums.
"""

from sqlalchemy import (BigInteger, CheckConstraint, Column, Float, ForeignKey, Index, Integer,
                        MetaData, String, Table)

from crmkit.plugin import NAMING, BigIdType, JSONType, Money, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

categories = Table(
    "catalogue_categories", metadata,
    Column("path", String(200), primary_key=True),
    Column("parent", String(200), ForeignKey("catalogue_categories.path")),
    Column("name", String(100), nullable=False),
)
"""The category tree: ``drinks/tea`` has parent ``drinks``; a root has none."""

products = Table(
    "catalogue_products", metadata,
    Column("sku", String(60), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(200), ForeignKey("catalogue_categories.path"), nullable=False,
           index=True),
    Column("list_price", Money, nullable=False),
    Column("unit_cost", Money, nullable=False),
    Column("active_from", UTCDateTime),
    Column("active_to", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("list_price >= 0", name="list_price_not_negative"),
    CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
)
"""Products; active from ``active_from`` (inclusive) to ``active_to`` (exclusive), NULL: open."""

items = Table(
    "catalogue_items", metadata,
    Column("id", BigIdType, primary_key=True),
    Column("interaction_id", BigIdType, ForeignKey("interactions.id"), nullable=False, index=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("line", Integer, nullable=False),
    Column("sku", String(60), ForeignKey("catalogue_products.sku"), nullable=False),
    Column("qty_units", BigInteger, nullable=False),
    Column("total_units", BigInteger, nullable=False),
    Column("cost_units", BigInteger, nullable=False),
    Index("ix_catalogue_items_customer_id_occurred_at", "customer_id", "occurred_at"),
)
"""One row per purchase line: quantity, line total and cost (qty × unit cost), in money units."""

offer_lists = Table(
    "catalogue_offer_lists", metadata,
    Column("name", String(100), primary_key=True),
    Column("as_of", UTCDateTime, nullable=False),
    Column("settings", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
)
"""Saved next-best-offer lists (a campaign targets one by name)."""

offers = Table(
    "catalogue_offers", metadata,
    Column("list_name", String(100), ForeignKey("catalogue_offer_lists.name"), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("sku", String(60), ForeignKey("catalogue_products.sku"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("score", Float, nullable=False),
    CheckConstraint("kind IN ('cross', 'up')", name="kind"),
    Index("ix_catalogue_offers_customer_id", "customer_id"),
)
"""The members of saved offer lists: each customer's offers, best first."""

ALL = [categories, products, items, offer_lists, offers]
