"""testvendor's behaviour: set-based counting, welcome notes, data-service hooks, API."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update

import crmkit
from crmkit.plugin import customers, interactions

from .tables import counts, notes


def count_purchases(ctx, batch) -> None:
    """Add the batch's purchases to each customer's count: set-based, one pass per batch."""
    in_batch = (select(interactions.c.customer_id, func.count().label("n"))
                .where(interactions.c.id.between(batch.first_id, batch.last_id),
                       interactions.c.kind == "purchase")
                .group_by(interactions.c.customer_id))
    per_customer = dict(ctx.conn.execute(in_batch).all())
    if not per_customer:
        return
    known = {r[0] for r in ctx.conn.execute(
        select(counts.c.customer_id).where(counts.c.customer_id.in_(list(per_customer))))}
    fresh = [{"customer_id": c, "purchases": n} for c, n in per_customer.items() if c not in known]
    if fresh:
        ctx.conn.execute(insert(counts), fresh)
    for customer_id in known:
        ctx.conn.execute(update(counts).where(counts.c.customer_id == customer_id)
                         .values(purchases=counts.c.purchases + per_customer[customer_id]))
    threshold = ctx.config["big_purchase_amount"]
    for row in batch.rows:
        if row["kind"] == "purchase" and row["amount"] is not None and row["amount"] >= threshold:
            ctx.emit("testvendor.big_purchase", row["customer_id"], {"interaction_id": row["id"]})


def welcome(ctx, events) -> None:
    """A welcome note for every created customer."""
    if events:
        ctx.conn.execute(insert(notes), [
            {"customer_id": e.customer_id, "note": ctx.config["welcome_note"],
             "author_email": "vendor@example.com", "created_at": ctx.now()} for e in events])


def timeline(ctx, customer_id, limit):
    rows = ctx.conn.execute(select(notes).where(notes.c.customer_id == customer_id)
                            .order_by(notes.c.created_at.desc()).limit(limit)).mappings()
    return [crmkit.TimelineEntry(at=r["created_at"], kind="note", summary=r["note"]) for r in rows]


def merge(ctx, keep_id, duplicate_id) -> None:
    ctx.conn.execute(update(notes).where(notes.c.customer_id == duplicate_id).values(customer_id=keep_id))
    dup = ctx.conn.execute(select(counts.c.purchases).where(counts.c.customer_id == duplicate_id)).scalar()
    if dup is not None:
        ctx.conn.execute(delete(counts).where(counts.c.customer_id == duplicate_id))
        kept = ctx.conn.execute(select(counts.c.purchases).where(counts.c.customer_id == keep_id)).scalar()
        if kept is None:
            ctx.conn.execute(insert(counts), {"customer_id": keep_id, "purchases": dup})
        else:
            ctx.conn.execute(update(counts).where(counts.c.customer_id == keep_id)
                             .values(purchases=kept + dup))


def export(ctx, customer_id):
    return {
        "notes": [dict(r) for r in ctx.conn.execute(
            select(notes.c.note, notes.c.author_email, notes.c.created_at)
            .where(notes.c.customer_id == customer_id)).mappings()],
        "purchases": ctx.conn.execute(select(counts.c.purchases)
                                      .where(counts.c.customer_id == customer_id)).scalar(),
    }


def erase(ctx, customer_id) -> None:
    ctx.conn.execute(update(notes).where(notes.c.customer_id == customer_id)
                     .values(note="(erased)", author_email=None))


class API:
    """testvendor's public API: ``crm.plugin("testvendor")``."""

    def __init__(self, crm):
        self.crm = crm

    def purchases(self, external_id: str) -> int:
        """How many purchases the plugin counted for a customer."""
        with self.crm.read() as conn:
            value = conn.execute(select(counts.c.purchases).join(customers, customers.c.id == counts.c.customer_id)
                                 .where(customers.c.external_id == external_id)).scalar()
        return value or 0

    def customers_counted(self) -> int:
        """How many customers have a purchase count."""
        with self.crm.read() as conn:
            return conn.execute(select(func.count()).select_from(counts)).scalar_one()

    def notes(self, external_id: str) -> list[str]:
        """The notes kept about a customer."""
        with self.crm.read() as conn:
            return list(conn.execute(select(notes.c.note).join(customers, customers.c.id == notes.c.customer_id)
                                     .where(customers.c.external_id == external_id)
                                     .order_by(notes.c.id)).scalars())
