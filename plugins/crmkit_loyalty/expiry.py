"""Expiry: write one ``expire`` row per lot whose points have run out of time (idempotent)."""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import func, select

from . import ledger as lg
from .settings import Settings, add_months
from .tables import ledger


@attrs.frozen
class ExpiryResult:
    """What an expiry run wrote."""

    rows: int
    points: int
    members: int


def expire(ctx, s: Settings, as_of: dt.datetime) -> ExpiryResult:
    """Expire what is due at ``as_of``.

    Lots carry the expiry date fixed when they were earned (rolling, calendar);
    every lot dated at or before ``as_of`` loses what is left of it, dated at
    its expiry.  In ``inactivity`` mode every lot of a member whose last earn
    or spend row is ``inactivity_months`` or more before ``as_of`` expires too,
    dated at that anniversary.  A second run at the same time writes nothing:
    an expired lot has nothing left.
    """
    rows: list[dict] = []
    dated = ctx.conn.execute(
        select(ledger.c.customer_id).distinct()
        .where(ledger.c.points > 0, ledger.c.expires_at <= as_of,
               ledger.c.points - lg.used_points() > 0)).scalars().all()
    if dated:
        lg.lock_members(ctx.conn, dated)
        for lots in lg.open_lots(ctx.conn, dated, expiring_by=as_of).values():
            rows += [_expire_row(lot, lot.expires_at, "expired") for lot in lots]
    if s.expiry_mode == "inactivity":
        cutoff = add_months(as_of, -s.inactivity_months)
        last = dict(ctx.conn.execute(
            select(ledger.c.customer_id, func.max(ledger.c.at))
            .where(ledger.c.type.in_(("earn", "spend")))
            .group_by(ledger.c.customer_id)
            .having(func.max(ledger.c.at) <= cutoff)).all())
        if last:
            lg.lock_members(ctx.conn, last)
            done = {r["related_id"] for r in rows}
            for customer_id, lots in lg.open_lots(ctx.conn, last).items():
                at = add_months(last[customer_id], s.inactivity_months)
                rows += [_expire_row(lot, at, f"expired after {s.inactivity_months} months "
                                              "without activity")
                         for lot in lots if lot.id not in done]
    lg.append(ctx.conn, rows, ctx.now(), ctx.actor)
    return ExpiryResult(len(rows), -sum(r["points"] for r in rows),
                        len({r["customer_id"] for r in rows}))


def _expire_row(lot: lg.Lot, at: dt.datetime, reason: str) -> dict:
    return {"customer_id": lot.customer_id, "at": at, "type": "expire", "source": "expiry",
            "points": -lot.remaining, "related_id": lot.id, "reason": reason,
            "uses": [(lot.id, lot.remaining)]}
