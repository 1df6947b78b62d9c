"""Referral bonuses: ``referral.converted`` awards the referrer ``referral_points``, once per referee."""

from __future__ import annotations

from sqlalchemy import insert, select

from crmkit.plugin import interactions

from . import inactivity, ledger as lg
from .settings import Settings, add_months
from .tables import referrals
from .tiers import upgrade


def award(ctx, s: Settings, events) -> None:
    """Award every converted referral in ``events`` not yet rewarded (set-based per delivery)."""
    wanted = {}
    for event in events:
        payload = event.payload or {}
        referrer = payload.get("referrer_id", event.customer_id)
        referee = payload.get("referee_id")
        if isinstance(referrer, int) and isinstance(referee, int) and referrer != referee:
            wanted.setdefault(referee, (referrer, payload.get("interaction_id"), event.occurred_at))
    if not wanted or s.referral_points <= 0:
        return
    conn = ctx.conn
    done = set(conn.execute(select(referrals.c.referee_id)
                            .where(referrals.c.referee_id.in_(list(wanted)))).scalars())
    todo = {referee: w for referee, w in sorted(wanted.items()) if referee not in done}
    if not todo:
        return
    sources = {i for _, i, _ in todo.values() if isinstance(i, int)}
    known = set(conn.execute(select(interactions.c.id)
                             .where(interactions.c.id.in_(sources))).scalars()) if sources else set()
    referrers = {referrer for referrer, _, _ in todo.values()}
    lg.enrol(conn, {r: min(at for rr, _, at in todo.values() if rr == r) for r in referrers},
             lambda joined: add_months(joined, s.review_months))
    rows = [{"customer_id": referrer, "at": at, "type": "earn", "source": "referral",
             "points": s.referral_points, "reason": f"referral of customer {referee}",
             "interaction_id": interaction if interaction in known else None,
             "expires_at": s.lot_expiry(at), "available_at": at}
            for referee, (referrer, interaction, at) in todo.items()]
    ids = lg.append(conn, rows, ctx.now(), ctx.actor)
    conn.execute(insert(referrals), [
        {"referee_id": referee, "referrer_id": row["customer_id"], "ledger_id": ledger_id,
         "at": row["at"]} for referee, row, ledger_id in zip(todo, rows, ids)])
    locked = lg.lock_members(conn, referrers)
    lg.settle_owed(conn, {c: m["owed"] for c, m in locked.items()}, ctx.now(), ctx.actor,
                   inactivity.of(s, ctx.now()))
    upgrade(ctx, s, referrers, ctx.now())
