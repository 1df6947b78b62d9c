"""Customer data services: timeline entries, merge, export and erase of loyalty data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from crmkit.plugin import TimelineEntry

from . import inactivity, ledger as lg
from .ceiling import forget
from .settings import settings_of
from .tables import ledger, members, milestones, referrals


def timeline(ctx, customer_id: int, limit: int) -> list[TimelineEntry]:
    """The member's ledger rows, newest first."""
    rows = ctx.conn.execute(
        select(ledger).where(ledger.c.customer_id == customer_id)
        .order_by(ledger.c.at.desc(), ledger.c.id.desc()).limit(limit)).mappings()
    return [TimelineEntry(at=r["at"], kind=f"points.{r['type']}",
                          summary=f"{r['points']:+d} points: {r['reason']}",
                          details={"ledger_id": r["id"], "points": r["points"],
                                   "source": r["source"], "owed_change": r["owed_change"],
                                   "reward_code": r["reward_code"],
                                   "expires_at": r["expires_at"]})
            for r in rows]


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move the duplicate's ledger, membership, milestones and referrals to ``keep_id``.

    Ledger rows are re-keyed (points and dates unchanged), so the balances add
    up; the membership keeps the higher tier, the earlier join date, the kept
    member's review date, and the sum of purchases and owed points; its upgrade
    ceiling becomes unknown.  Owed points are then paid from the merged balance.
    """
    conn = ctx.conn
    locked = lg.lock_members(conn, [keep_id, duplicate_id])
    conn.execute(update(ledger).where(ledger.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))
    dup, kept = locked.get(duplicate_id), locked.get(keep_id)
    if dup is not None and kept is None:
        conn.execute(update(members).where(members.c.customer_id == duplicate_id)
                     .values(customer_id=keep_id))
    elif dup is not None:
        s = settings_of(ctx)
        tier = dup["tier"] if s.rank(dup["tier"]) > s.rank(kept["tier"]) else kept["tier"]
        conn.execute(update(members).where(members.c.customer_id == keep_id).values(
            joined_at=min(kept["joined_at"], dup["joined_at"]), tier=tier,
            tier_since=kept["tier_since"] if tier == kept["tier"] else dup["tier_since"],
            purchases=kept["purchases"] + dup["purchases"], owed=kept["owed"] + dup["owed"]))
        conn.execute(delete(members).where(members.c.customer_id == duplicate_id))
    kept_counts = set(conn.execute(select(milestones.c.count)
                                   .where(milestones.c.customer_id == keep_id)).scalars())
    if kept_counts:
        conn.execute(delete(milestones).where(milestones.c.customer_id == duplicate_id,
                                              milestones.c.count.in_(kept_counts)))
    conn.execute(update(milestones).where(milestones.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))
    if conn.execute(select(referrals.c.referee_id)
                    .where(referrals.c.referee_id == keep_id)).first():
        conn.execute(delete(referrals).where(referrals.c.referee_id == duplicate_id))
    conn.execute(update(referrals).where(referrals.c.referee_id == duplicate_id)
                 .values(referee_id=keep_id))
    conn.execute(update(referrals).where(referrals.c.referrer_id == duplicate_id)
                 .values(referrer_id=keep_id))
    forget(conn, keep_id)
    owed = conn.execute(select(members.c.owed).where(members.c.customer_id == keep_id)).scalar()
    if owed:
        lg.settle_owed(conn, {keep_id: owed}, ctx.now(), ctx.actor,
                       inactivity.of(settings_of(ctx), ctx.now()))


def export(ctx, customer_id: int) -> dict[str, Any]:
    """Membership, every ledger row, milestones and referrals of one customer."""
    conn = ctx.conn
    member = conn.execute(select(members).where(members.c.customer_id == customer_id)
                          ).mappings().first()
    return {
        "member": None if member is None else {k: v for k, v in member.items()
                                               if k != "customer_id"},
        "ledger": [dict(r) for r in conn.execute(
            select(ledger).where(ledger.c.customer_id == customer_id)
            .order_by(ledger.c.id)).mappings()],
        "milestones": [dict(r) for r in conn.execute(
            select(milestones.c.count, milestones.c.reached_at, milestones.c.ledger_id)
            .where(milestones.c.customer_id == customer_id)
            .order_by(milestones.c.count)).mappings()],
        "referrals": [dict(r) for r in conn.execute(
            select(referrals).where((referrals.c.referrer_id == customer_id)
                                    | (referrals.c.referee_id == customer_id))
            .order_by(referrals.c.at)).mappings()],
    }


ERASED = "(erased)"


def erase(ctx, customer_id: int) -> None:
    """Blank the free text staff wrote about the customer (manual adjustment reasons).

    Points, dates, sources and amounts stay, so balances and the liability still add up;
    every other reason is generated text without personal data.
    """
    ctx.conn.execute(update(ledger).where(ledger.c.customer_id == customer_id,
                                          ledger.c.source == "manual")
                     .values(reason=ERASED))
