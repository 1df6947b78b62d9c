"""Tiers: qualification over a rolling window, immediate upgrades, downgrades at review dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable

import attrs
from sqlalchemy import bindparam, func, select, update

from crmkit.tables import interactions

from . import ledger as lg
from .settings import Settings, add_months
from .tables import ledger, members


@attrs.frozen
class TierChange:
    """One member's tier change."""

    customer_id: int
    before: str | None
    after: str | None
    reason: str


def qualifying(conn, s: Settings, customer_ids: Iterable[int], as_of: dt.datetime
               ) -> dict[int, Decimal]:
    """Each customer's qualifying value in the window (as_of − tier_window_months, as_of].

    ``points``: points earned (earn rows) net of refund reversals; ``spend``:
    purchases minus refunds; ``purchases``: number of purchases.
    """
    start = add_months(as_of, -s.tier_window_months)
    result: dict[int, Decimal] = {}
    for part in lg.chunks(customer_ids):
        if s.tier_basis == "points":
            query = (select(ledger.c.customer_id,
                            func.sum(ledger.c.points - ledger.c.owed_change))
                     .where(ledger.c.customer_id.in_(part), ledger.c.at > start,
                            ledger.c.at <= as_of,
                            ledger.c.source.in_(("purchase", "milestone", "referral", "refund")))
                     .group_by(ledger.c.customer_id))
            result.update({c: Decimal(int(v)) for c, v in conn.execute(query)})
            continue
        i = interactions.c
        query = (select(i.customer_id, i.kind, func.count(), func.sum(i.amount))
                 .where(i.customer_id.in_(part), i.kind.in_(("purchase", "refund")),
                        i.occurred_at > start, i.occurred_at <= as_of)
                 .group_by(i.customer_id, i.kind))
        for customer_id, kind, count, amount in conn.execute(query):
            if s.tier_basis == "purchases":
                value = Decimal(count) if kind == "purchase" else Decimal(0)
            else:
                value = (amount or Decimal(0)) * (1 if kind == "purchase" else -1)
            result[customer_id] = result.get(customer_id, Decimal(0)) + value
    return result


def upgrade(ctx, s: Settings, customer_ids: Iterable[int], as_of: dt.datetime) -> list[TierChange]:
    """Move members up to the highest tier they qualify for now (never down); emit ``tier.changed``."""
    ids = [c for c in customer_ids]
    if not ids or not s.tiers:
        return []
    rows = lg.member_rows(ctx.conn, ids)
    top = len(s.tiers) - 1
    candidates = [c for c, m in rows.items() if s.rank(m["tier"]) < top]
    if not candidates:
        return []
    values = qualifying(ctx.conn, s, candidates, as_of)
    changes = []
    for customer_id in sorted(candidates):
        current = rows[customer_id]["tier"]
        rank = s.qualified(values.get(customer_id, Decimal(0)))
        if rank > s.rank(current):
            changes.append(TierChange(customer_id, current, s.tiers[rank].name, "upgrade"))
    apply(ctx, changes, as_of)
    return changes


def review(ctx, s: Settings, as_of: dt.datetime) -> list[TierChange]:
    """Review every member whose review date has come: up to what they qualify for, or down by at
    most ``max_downgrade_steps``; the next review is ``review_months`` later (idempotent)."""
    due = {r.customer_id: r for r in ctx.conn.execute(
        select(members.c.customer_id, members.c.tier, members.c.review_at)
        .where(members.c.review_at <= as_of))}
    if not due:
        return []
    values = qualifying(ctx.conn, s, due, as_of)
    changes, next_review = [], {}
    for customer_id, row in sorted(due.items()):
        current = s.rank(row.tier)
        rank = s.qualified(values.get(customer_id, Decimal(0)))
        if rank < current:
            rank = max(rank, current - s.max_downgrade_steps)
        after = s.tiers[rank].name if rank >= 0 else None
        if after != row.tier:
            changes.append(TierChange(customer_id, row.tier, after,
                                      "review" if rank < current else "upgrade"))
        moment = row.review_at
        while moment <= as_of:
            moment = add_months(moment, s.review_months)
        next_review[customer_id] = moment
    ctx.conn.execute(update(members).where(members.c.customer_id == bindparam("cid"))
                     .values(review_at=bindparam("next")),
                     [{"cid": c, "next": m} for c, m in next_review.items()])
    apply(ctx, changes, as_of)
    return changes


def apply(ctx, changes: list[TierChange], as_of: dt.datetime) -> None:
    """Store tier changes (one executemany) and emit ``tier.changed`` for each."""
    if not changes:
        return
    ctx.conn.execute(update(members).where(members.c.customer_id == bindparam("cid"))
                     .values(tier=bindparam("new_tier"), tier_since=bindparam("since")),
                     [{"cid": c.customer_id, "new_tier": c.after, "since": as_of} for c in changes])
    for change in changes:
        ctx.emit("tier.changed", change.customer_id,
                 {"from": change.before, "to": change.after, "reason": change.reason})
