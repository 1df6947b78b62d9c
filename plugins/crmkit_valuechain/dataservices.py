"""valuechain's part of the customer data services: timeline, merge, export, erase."""

from __future__ import annotations

from sqlalchemy import delete, select, update

import crmkit

from .tables import network, ssc


def timeline(ctx, customer_id: int, limit: int) -> list:
    """The SSC mark (when, why) and network members assigned to the customer."""
    entries = []
    row = ctx.conn.execute(select(ssc).where(ssc.c.customer_id == customer_id)).mappings().first()
    if row is not None:
        entries.append(crmkit.TimelineEntry(
            at=row["marked_at"], kind="ssc",
            summary=f"marked strategically significant ({', '.join(row['reasons'])}), "
                    f"group {row['ssc_group']}",
            details={"by": row["marked_by"], "note": row["note"]}))
    for r in ctx.conn.execute(select(network).where(network.c.customer_id == customer_id)
                              .order_by(network.c.recorded_at.desc()).limit(limit)).mappings():
        entries.append(crmkit.TimelineEntry(at=r["recorded_at"], kind="network",
                                            summary=f"{r['kind']} {r['name']}: {r['role']}"))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Keep one SSC mark (KEEP's group; the union of reasons); move network links."""
    conn = ctx.conn
    dup = conn.execute(select(ssc).where(ssc.c.customer_id == duplicate_id)).mappings().first()
    if dup is not None:
        kept = conn.execute(select(ssc).where(ssc.c.customer_id == keep_id)).mappings().first()
        if kept is None:
            conn.execute(update(ssc).where(ssc.c.customer_id == duplicate_id)
                         .values(customer_id=keep_id))
        else:
            reasons = list(dict.fromkeys(list(kept["reasons"]) + list(dup["reasons"])))
            notes = [n for n in (kept["note"], dup["note"]) if n]
            conn.execute(update(ssc).where(ssc.c.customer_id == keep_id).values(
                reasons=reasons, note=" / ".join(notes)[:1000] if notes else None))
            conn.execute(delete(ssc).where(ssc.c.customer_id == duplicate_id))
    conn.execute(update(network).where(network.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))


def export(ctx, customer_id: int) -> dict:
    """Everything valuechain holds about one customer."""
    conn = ctx.conn
    row = conn.execute(select(ssc.c.reasons, ssc.c.ssc_group, ssc.c.note, ssc.c.marked_at,
                              ssc.c.marked_by).where(ssc.c.customer_id == customer_id)
                       ).mappings().first()
    return {
        "ssc": dict(row) if row else None,
        "network": [dict(r) for r in conn.execute(
            select(network.c.kind, network.c.name, network.c.role, network.c.recorded_at)
            .where(network.c.customer_id == customer_id).order_by(network.c.id)).mappings()],
    }


def erase(ctx, customer_id: int) -> None:
    """Remove free text about the customer (the SSC note, the roles of members serving only
    them); the mark, reasons, member names and dates stay."""
    ctx.conn.execute(update(ssc).where(ssc.c.customer_id == customer_id).values(note=None))
    ctx.conn.execute(update(network).where(network.c.customer_id == customer_id)
                     .values(role="(erased)"))
