"""The react step: purchases earn points, milestones pay bonuses, refunds reverse earnings.

One pass over ``batch.rows`` computes eligible amounts (line items in excluded
categories are not portable to sum in SQL on both databases); everything else
is a fixed number of statements per batch whatever its size.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import func, insert, select, update

from crmkit.tables import interactions

from . import ledger as lg
from .settings import Settings, add_months
from .tables import ledger, members, milestones
from .tiers import upgrade


def settings_of(ctx) -> Settings:
    """The plugin's settings in this hook context."""
    return Settings.from_config(ctx.config)


def eligible_amount(row: dict[str, Any], excluded: frozenset[str]) -> Decimal:
    """The purchase amount minus its line items in excluded categories (never below 0)."""
    amount = row["amount"] or Decimal(0)
    payload = row.get("payload") or {}
    items = payload.get("items") if isinstance(payload, dict) else None
    if excluded and isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("category") in excluded:
                try:
                    amount -= Decimal(str(item.get("amount", "0")))
                except ArithmeticError:
                    continue
    return max(amount, Decimal(0))


def points_for(eligible: Decimal, rate: Decimal, multiplier: Decimal) -> int:
    """floor(eligible × rate × multiplier), exact."""
    return int((eligible * rate * multiplier).to_integral_value(rounding=ROUND_FLOOR))


def react(ctx, batch) -> None:
    """Earn, pay owed points, award milestones, reverse refunds and upgrade tiers for a batch."""
    purchases = [r for r in batch.rows if r["kind"] == "purchase"]
    refunds = [r for r in batch.rows if r["kind"] == "refund"
               and isinstance((r.get("payload") or {}).get("refund_of"), str)]
    if not purchases and not refunds:
        return
    s = settings_of(ctx)
    touched: set[int] = set()
    if purchases:
        touched |= earn(ctx, s, batch, purchases)
    if refunds:
        touched |= reverse_refunds(ctx, refunds)
    upgrade(ctx, s, touched, ctx.now())


def earn(ctx, s: Settings, batch, purchases: list[dict[str, Any]]) -> set[int]:
    """Enrol new members, count purchases, write earn rows and milestone bonuses; settle debts."""
    conn, now = ctx.conn, ctx.now()
    by_customer: dict[int, list[dict[str, Any]]] = {}
    for row in purchases:
        by_customer.setdefault(row["customer_id"], []).append(row)
    before = lg.member_rows(conn, by_customer)
    lg.enrol(conn, {c: min(r["occurred_at"] for r in rows) for c, rows in by_customer.items()
                    if c not in before},
             lambda joined: add_months(joined, s.review_months))
    counts = (select(interactions.c.customer_id, func.count().label("n"))
              .where(interactions.c.id.between(batch.first_id, batch.last_id),
                     interactions.c.kind == "purchase")
              .group_by(interactions.c.customer_id).subquery())
    conn.execute(update(members).where(members.c.customer_id == counts.c.customer_id)
                 .values(purchases=members.c.purchases + counts.c.n))
    rows = []
    for row in purchases:
        member = before.get(row["customer_id"])
        multiplier = s.multiplier(member["tier"] if member else None)
        points = points_for(eligible_amount(row, s.excluded_categories), s.points_per_unit,
                            multiplier)
        if points > 0:
            at = row["occurred_at"]
            rows.append({"customer_id": row["customer_id"], "at": at, "type": "earn",
                         "source": "purchase", "points": points, "interaction_id": row["id"],
                         "reason": f"purchase {row['external_id'] or row['id']}",
                         "expires_at": s.lot_expiry(at),
                         "available_at": at + dt.timedelta(days=s.lock_days)})
    bonuses = milestone_rows(ctx, s, by_customer, before)
    ids = lg.append(conn, rows + [row for row, _ in bonuses], now, ctx.actor)
    record_milestones(ctx, bonuses, ids[len(rows):])
    owing = {c: m["owed"] for c, m in before.items() if m["owed"] > 0}
    if owing:
        lg.lock_members(conn, owing)
        lg.settle_owed(conn, owing, now, ctx.actor)
    return set(by_customer)


def milestone_rows(ctx, s: Settings, by_customer, before) -> list[tuple[dict[str, Any], int]]:
    """``(bonus row, count)`` for the highest milestone each member crossed in this batch, unless awarded."""
    if not s.milestones:
        return []
    counts = sorted(s.milestones)
    crossed: dict[int, tuple[int, dict[str, Any]]] = {}
    for customer_id, rows in by_customer.items():
        start = before[customer_id]["purchases"] if customer_id in before else 0
        reached = [c for c in counts if start < c <= start + len(rows)]
        if reached:
            rows = sorted(rows, key=lambda r: r["id"])
            crossed[customer_id] = (reached[-1], rows[reached[-1] - start - 1])
    if not crossed:
        return []
    awarded = set()
    for part in lg.chunks(crossed):
        awarded |= set(ctx.conn.execute(select(milestones.c.customer_id, milestones.c.count)
                                        .where(milestones.c.customer_id.in_(part))).all())
    result = []
    for customer_id, (count, row) in sorted(crossed.items()):
        if (customer_id, count) in awarded:
            continue
        at = row["occurred_at"]
        result.append(({"customer_id": customer_id, "at": at, "type": "earn",
                        "source": "milestone", "points": s.milestones[count],
                        "interaction_id": row["id"], "reason": f"milestone: purchase {count}",
                        "expires_at": s.lot_expiry(at), "available_at": at}, count))
    return result


def record_milestones(ctx, bonuses: list[tuple[dict[str, Any], int]], ids: list[int]) -> None:
    """Store the awarded milestones (the primary key makes a second award impossible) and emit
    ``milestone.reached``."""
    if not bonuses:
        return
    ctx.conn.execute(insert(milestones), [
        {"customer_id": row["customer_id"], "count": count, "ledger_id": ledger_id,
         "reached_at": row["at"]} for (row, count), ledger_id in zip(bonuses, ids)])
    for row, count in bonuses:
        ctx.emit("milestone.reached", row["customer_id"], {"count": count, "points": row["points"]})


def reverse_refunds(ctx, refunds: list[dict[str, Any]]) -> set[int]:
    """Reverse what each refunded purchase earned: from its own lot first, then FIFO; owe the rest."""
    conn, now = ctx.conn, ctx.now()
    refs = sorted({r["payload"]["refund_of"] for r in refunds})
    purchases = {}
    for start in range(0, len(refs), lg.CHUNK):
        purchases.update({row.external_id: row for row in conn.execute(
            select(interactions.c.id, interactions.c.customer_id, interactions.c.amount,
                   interactions.c.external_id)
            .where(interactions.c.external_id.in_(refs[start:start + lg.CHUNK]),
                   interactions.c.kind == "purchase"))})
    if not purchases:
        return set()
    # the earning may sit with the refund's customer after a merge: look under both
    customers = {p.customer_id for p in purchases.values()} | {r["customer_id"] for r in refunds}
    purchase_ids = [p.id for p in purchases.values()]
    earned = {row.interaction_id: row for row in conn.execute(
        select(ledger.c.id, ledger.c.interaction_id, ledger.c.points, ledger.c.customer_id)
        .where(ledger.c.customer_id.in_(customers), ledger.c.source == "purchase",
               ledger.c.interaction_id.in_(purchase_ids)))}
    if not earned:
        return set()
    earn_ids = [e.id for e in earned.values()]
    reversed_ = dict(conn.execute(
        select(ledger.c.related_id, func.sum(ledger.c.owed_change - ledger.c.points))
        .where(ledger.c.customer_id.in_(customers), ledger.c.source == "refund",
               ledger.c.related_id.in_(earn_ids))
        .group_by(ledger.c.related_id)).all())
    locked = lg.lock_members(conn, customers)
    lots = lg.open_lots(conn, customers)
    rows, owed = [], {}
    for refund in sorted(refunds, key=lambda r: r["id"]):
        purchase = purchases.get(refund["payload"]["refund_of"])
        earning = None if purchase is None else earned.get(purchase.id)
        if earning is None or earning.customer_id not in locked:
            continue
        done = int(reversed_.get(earning.id, 0))
        want = refund_points(earning.points, done, refund["amount"], purchase.amount)
        if want <= 0:
            continue
        reversed_[earning.id] = done + want
        uses = lg.take(lots.get(earning.customer_id, []), want, first=[earning.id])
        taken = sum(p for _, p in uses)
        rows.append({"customer_id": earning.customer_id, "at": refund["occurred_at"],
                     "type": "reverse", "source": "refund", "points": -taken,
                     "owed_change": want - taken, "interaction_id": refund["id"],
                     "related_id": earning.id, "uses": uses,
                     "reason": f"refund {refund['external_id'] or refund['id']} of purchase "
                               f"{purchase.external_id}"})
        owed[earning.customer_id] = owed.get(earning.customer_id, 0) + want - taken
    lg.append(conn, rows, now, ctx.actor)
    lg.change_owed(conn, owed)
    return {r["customer_id"] for r in rows}


def refund_points(earned: int, already: int, refunded: Decimal | None,
                  paid: Decimal | None) -> int:
    """Points one refund reverses: all that is left of the earning for a full (or unpriced) refund,
    else ceil(earned × refunded / paid), never more than is left."""
    left = earned - already
    if refunded is None or not paid or refunded >= paid:
        return max(left, 0)
    return max(min(left, math.ceil(Decimal(earned) * refunded / paid)), 0)
