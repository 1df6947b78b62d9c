"""campaigns' share of merge, export and erase: the customer's campaign recipient rows."""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, select, update

from .tables import campaigns, recipients


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move the duplicate's recipient rows to the customer kept; in a campaign that planned both,
    the kept customer's row stays and the duplicate's is dropped (one row per campaign)."""
    kept = recipients.alias("kept")
    ctx.conn.execute(delete(recipients).where(
        recipients.c.customer_id == duplicate_id,
        exists().where(and_(kept.c.campaign_id == recipients.c.campaign_id,
                            kept.c.customer_id == keep_id))))
    ctx.conn.execute(update(recipients).where(recipients.c.customer_id == duplicate_id)
                     .values(customer_id=keep_id))


def export(ctx, customer_id: int) -> dict:
    """The campaigns the customer was planned for: status, reason, variant and Message-ID."""
    r = recipients.c
    rows = ctx.conn.execute(
        select(campaigns.c.name.label("campaign"), r.variant, r.holdout, r.status, r.reason,
               r.message_id, r.planned_at)
        .join_from(recipients, campaigns, campaigns.c.id == r.campaign_id)
        .where(r.customer_id == customer_id).order_by(r.planned_at, campaigns.c.name))
    return {"recipients": [{**row._mapping, "planned_at": row.planned_at.isoformat()}
                           for row in rows]}


def erase(ctx, customer_id: int) -> None:
    """Nothing to erase: recipient rows hold campaign names, statuses and dates, no personal
    text (the rendered messages are the core's)."""
