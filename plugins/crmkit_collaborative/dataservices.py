"""collaborative's part of the customer data services: timeline, merge, export, erase."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

import crmkit

from .tables import contacts, handoffs, history, work_items

ERASED = "(erased)"
CUSTOMER_TABLES = (work_items, handoffs, history, contacts)


def timeline(ctx, customer_id: int, limit: int) -> list:
    """Routed work items, hand-offs and escalations, and outbound contacts, newest first."""
    w, h, c = work_items.c, handoffs.c, contacts.c
    entries = []
    for r in ctx.conn.execute(select(work_items).where(w.customer_id == customer_id)
                              .order_by(w.created_at.desc(), w.id.desc()).limit(limit)).mappings():
        decided = "no rule matched" if r["rule"] == "fallback" else f"rule {r['rule']!r}"
        entries.append(crmkit.TimelineEntry(
            at=r["created_at"], kind="work_item",
            summary=f"work item {r['id']} ({r['subject']}) routed by {decided}; now {r['state']} "
                    f"in {r['team']}" + (f" with {r['assignee']}" if r["assignee"] else ""),
            details={"work_item_id": r["id"], "interaction_id": r["interaction_id"]}))
    for r in ctx.conn.execute(select(handoffs).where(h.customer_id == customer_id)
                              .order_by(h.at.desc(), h.id.desc()).limit(limit)).mappings():
        verb = "handed off" if r["kind"] == "handoff" else "escalated"
        status = ""
        if r["kind"] == "handoff":
            status = (" (acknowledged)" if r["acknowledged_at"] else
                      " (escalated, not acknowledged)" if r["escalated_at"] else
                      f" (acknowledge by {r['ack_due_at']:%Y-%m-%d %H:%M} UTC)")
        entries.append(crmkit.TimelineEntry(
            at=r["at"], kind=r["kind"],
            summary=f"work item {r['work_item_id']} {verb} {r['from_team']} → {r['to_team']} "
                    f"by {r['by']}: {r['note']}{status}",
            details={"work_item_id": r["work_item_id"], "handoff_id": r["id"]}))
    for r in ctx.conn.execute(select(contacts).where(c.customer_id == customer_id)
                              .order_by(c.at.desc(), c.id.desc()).limit(limit)).mappings():
        how = (f"on {r['channel']} instead of preferred {r['preferred_channel']} "
               f"({r['override_reason']})" if r["override_reason"] else f"on {r['channel']}")
        entries.append(crmkit.TimelineEntry(
            at=r["at"], kind="contact", summary=f"contacted {how} by {r['by']}: {r['subject']}",
            details={"contact_id": r["id"], "interaction_id": r["interaction_id"]}))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move every row of the duplicate to the kept customer (no unique key involves the customer)."""
    for table in CUSTOMER_TABLES:
        ctx.conn.execute(update(table).where(table.c.customer_id == duplicate_id)
                         .values(customer_id=keep_id))


def export(ctx, customer_id: int) -> dict[str, Any]:
    """Everything collaborative holds about one customer."""
    def rows(table, order):
        return [dict(r) for r in ctx.conn.execute(
            select(table).where(table.c.customer_id == customer_id).order_by(order)).mappings()]

    return {
        "work_items": rows(work_items, work_items.c.id),
        "handoffs": rows(handoffs, handoffs.c.id),
        "history": rows(history, history.c.id),
        "contacts": rows(contacts, contacts.c.id),
    }


def erase(ctx, customer_id: int) -> None:
    """Replace free text written about the customer (hand-off notes, contact subjects and reasons).

    Teams, states, channels and every date stay, so workload reports still add up.
    """
    ctx.conn.execute(update(handoffs).where(handoffs.c.customer_id == customer_id,
                                            handoffs.c.kind == "handoff")
                     .values(note=ERASED))
    ctx.conn.execute(update(contacts).where(contacts.c.customer_id == customer_id)
                     .values(subject=ERASED))
    ctx.conn.execute(update(contacts).where(contacts.c.customer_id == customer_id,
                                            contacts.c.override_reason.is_not(None))
                     .values(override_reason=ERASED))
