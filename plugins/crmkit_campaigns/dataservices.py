"""campaigns' share of merge, export and erase: the customer's campaign recipient rows."""

from __future__ import annotations

import attrs
from sqlalchemy import and_, delete, exists, select, update

from crmkit.plugin import jsonable

from .coupons import listing
from .tables import campaigns, coupons, recipients, redemptions


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
    for table in (coupons, redemptions):  # the duplicate's codes and redemptions are the kept's
        ctx.conn.execute(update(table).where(table.c.customer_id == duplicate_id)
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
                           for row in rows],
            "coupons": [jsonable(attrs.asdict(c, recurse=False))
                        for c in listing(ctx.conn, customer_id=customer_id)]}


def erase(ctx, customer_id: int) -> None:
    """Nothing to erase: recipient rows hold campaign names, statuses and dates, no personal
    text (the rendered messages are the core's)."""
