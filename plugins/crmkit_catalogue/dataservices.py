"""catalogue's share of merge, export and erase: line items and saved offers."""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, select, update

from .tables import items, offers


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move the duplicate's line items and saved offers to the customer kept; in a list where
    the customer kept has offers already, the duplicate's are dropped (a list has one set per
    customer)."""
    conn = ctx.conn
    conn.execute(update(items).where(items.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))
    kept = offers.alias("kept")
    conn.execute(delete(offers).where(
        offers.c.customer_id == duplicate_id,
        exists().where(and_(kept.c.list_name == offers.c.list_name,
                            kept.c.customer_id == keep_id))))
    conn.execute(update(offers).where(offers.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))


def export(ctx, customer_id: int) -> dict:
    """The customer's line items and saved offers, JSON-ready."""
    conn = ctx.conn
    lines = conn.execute(select(items.c.interaction_id, items.c.line, items.c.sku,
                                items.c.qty_units, items.c.total_units, items.c.cost_units,
                                items.c.occurred_at)
                         .where(items.c.customer_id == customer_id)
                         .order_by(items.c.occurred_at, items.c.interaction_id, items.c.line))
    saved = conn.execute(select(offers.c.list_name, offers.c.rank, offers.c.sku, offers.c.kind,
                                offers.c.score)
                         .where(offers.c.customer_id == customer_id)
                         .order_by(offers.c.list_name, offers.c.rank))
    return {"line_items": [{**r._mapping, "occurred_at": r.occurred_at.isoformat()}
                           for r in lines],
            "offers": [dict(r._mapping) for r in saved]}


def erase(ctx, customer_id: int) -> None:
    """Nothing to erase: line items and offers hold products, amounts and dates, no personal text."""
