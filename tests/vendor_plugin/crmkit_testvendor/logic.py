"""testvendor's behaviour: set-based counting and welcome notes."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update

from crmkit.plugin import interactions

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
