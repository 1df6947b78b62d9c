"""testvendor's customer data services: timeline, merge, export, erase."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

import crmkit

from .tables import counts, notes


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
