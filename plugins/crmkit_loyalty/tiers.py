"""Tiers: qualification over a rolling window, immediate upgrades, downgrades at review dates."""

from __future__ import annotations

import datetime as dt
import functools
import math
from decimal import Decimal
from typing import Any, Iterable, Union

import attrs
from sqlalchemy import BigInteger, and_, bindparam, case, func, or_, select, type_coerce, update
from sqlalchemy.sql import CompoundSelect, Select

from crmkit.plugin import MONEY_SCALE, interactions, money_from_units

from . import ledger as lg
from .settings import Settings, Tier, add_months, program_currency
from . import ceiling
from .tables import QUALIFYING_SOURCES, ledger, members


@attrs.frozen
class TierChange:
    """One member's tier change."""

    customer_id: int
    before: str | None
    after: str | None
    reason: str


Customers = Union[Iterable[int], Select, CompoundSelect]
"""Whom to look at: customer ids, or a SELECT of customer ids."""


def scopes(customers: Customers) -> Iterable[Any]:
    """``customers`` as arguments for ``column.in_()``: the SELECT itself, or sorted id chunks."""
    if isinstance(customers, (Select, CompoundSelect)):
        yield customers
    else:
        yield from lg.chunks(customers)


def value_query(s: Settings, scope: Any, as_of: dt.datetime, currency: str) -> Select:
    """SELECT ``(customer_id, value)`` of the qualifying value in the window
    (as_of − tier_window_months, as_of], for the customers in ``scope``, in whole units:
    points (``points``: earn rows net of refund reversals), money units (``spend``:
    purchases minus refunds in ``currency``, the program's, ``MONEY_SCALE`` per currency
    unit) or a count (``purchases``, in any currency).  Customers with nothing in the
    window have no row."""
    start = add_months(as_of, -s.tier_window_months)
    if s.tier_basis == "points":
        return (select(ledger.c.customer_id,
                       func.sum(ledger.c.points - ledger.c.owed_change).label("value"))
                .where(ledger.c.customer_id.in_(scope), ledger.c.at > start,
                       ledger.c.at <= as_of,
                       ledger.c.source.in_(QUALIFYING_SOURCES))
                .group_by(ledger.c.customer_id))
    i = interactions.c
    if s.tier_basis == "purchases":
        value = func.sum(case((i.kind == "purchase", 1), else_=0))
    else:
        amount = type_coerce(i.amount, BigInteger())
        value = func.coalesce(func.sum(case((i.currency != currency, 0),
                                            (i.kind == "purchase", amount), else_=-amount)), 0)
    return (select(i.customer_id, value.label("value"))
            .where(i.customer_id.in_(scope), i.kind.in_(("purchase", "refund")),
                   i.occurred_at > start, i.occurred_at <= as_of)
            .group_by(i.customer_id))


def threshold_units(s: Settings, tier: Tier) -> int:
    """The least whole value (in :func:`value_query` units) that reaches ``tier``'s threshold."""
    scale = MONEY_SCALE if s.tier_basis == "spend" else 1
    return math.ceil(tier.threshold * scale)


def qualifying(conn, s: Settings, customer_ids: Customers, as_of: dt.datetime, currency: str
               ) -> dict[int, Decimal]:
    """Each customer's qualifying value in the window (as_of − tier_window_months, as_of]
    (points, spend in units of ``currency``, or purchases; see :func:`value_query`)."""
    result: dict[int, Decimal] = {}
    for scope in scopes(customer_ids):
        for customer_id, value in conn.execute(value_query(s, scope, as_of, currency)):
            result[customer_id] = (money_from_units(value or 0) if s.tier_basis == "spend"
                                   else Decimal(int(value or 0)))
    return result


def removed(s: Settings):
    """SQL: a member's stored tier is no longer configured (the tiers were changed since)."""
    return and_(members.c.tier.is_not(None), members.c.tier.not_in([t.name for t in s.tiers]))


def requalified(s: Settings, customer_id: int, tier: str | None, rank: int) -> TierChange | None:
    """The change that moves a member holding ``tier`` who qualifies for ``rank`` up to it
    (reason ``upgrade``), or from a tier no longer configured to it whatever it is (reason
    ``tier removed``); None when neither applies."""
    after = s.tiers[rank].name if rank >= 0 else None
    if s.removed(tier):
        return TierChange(customer_id, tier, after, "tier removed")
    return TierChange(customer_id, tier, after, "upgrade") if rank > s.rank(tier) else None


def upgrade(ctx, s: Settings, customer_ids: Customers, as_of: dt.datetime) -> list[TierChange]:
    """Move members up to the highest tier they qualify for now (never down), and members whose
    tier is no longer configured to it whatever it is; emit ``tier.changed``.

    On the ``points`` basis only members whose upgrade ceiling may reach their
    next tier have their window summed (see :mod:`.ceiling`); on the others one
    query per scope finds the members whose qualified tier is above their
    current one or whose tier was removed.  Only those come back to Python.
    """
    if not s.tiers:
        return []
    find = (points_upgrades if s.tier_basis == "points"
            else functools.partial(value_upgrades, currency=program_currency(ctx.crm)))
    changes = [change for scope in scopes(customer_ids) for change in find(ctx.conn, s, scope, as_of)]
    apply(ctx, changes, as_of)
    return changes


def points_upgrades(conn, s: Settings, scope: Any, as_of: dt.datetime) -> list[TierChange]:
    """Upgrades (and moves from removed tiers) on the ``points`` basis among the members in
    ``scope``: their windows are summed only where the ceiling allows a change (always for a
    removed tier), and those members' ceilings are set afresh."""
    start = add_months(as_of, -s.tier_window_months)
    above = [(members.c.tier == t.name, threshold_units(s, s.tiers[rank + 1]))
             for rank, t in enumerate(s.tiers[:-1])]
    next_threshold = case(*above, (removed(s), 0), else_=threshold_units(s, s.tiers[0]))
    tiers = dict(conn.execute(ceiling.to_check(next_threshold, s.tiers[-1].name, scope, start)).all())
    changes = []
    for part in lg.chunks(tiers):
        window = ceiling.window_points(conn, part, start, as_of)
        for customer_id in part:
            points, _ = window.get(customer_id, (0, 0))
            change = requalified(s, customer_id, tiers[customer_id],
                                 s.qualified(Decimal(points)))
            if change is not None:
                changes.append(change)
        ceiling.store(conn, {c: window.get(c, (0, 0))[1] for c in part}, start)
    return changes


def value_upgrades(conn, s: Settings, scope: Any, as_of: dt.datetime, currency: str
                   ) -> list[TierChange]:
    """Upgrades (and moves from removed tiers) on the ``spend`` (in ``currency``) and
    ``purchases`` bases among the members in ``scope`` (one query)."""
    current = case(*[(members.c.tier == t.name, rank) for rank, t in enumerate(s.tiers)],
                   else_=-1)
    values = value_query(s, scope, as_of, currency).subquery()
    value = func.coalesce(values.c.value, 0)
    qualified = case(*[(value >= threshold_units(s, t), rank)
                       for rank, t in reversed(list(enumerate(s.tiers)))], else_=-1)
    query = (select(members.c.customer_id, members.c.tier, qualified)
             .select_from(members.outerjoin(values,
                                            values.c.customer_id == members.c.customer_id))
             .where(members.c.customer_id.in_(scope), or_(qualified > current, removed(s)))
             .order_by(members.c.customer_id))
    return [requalified(s, customer_id, tier, rank)
            for customer_id, tier, rank in conn.execute(query)]


def review(ctx, s: Settings, as_of: dt.datetime) -> list[TierChange]:
    """Review every member whose review date has come: up to what they qualify for, or down by at
    most ``max_downgrade_steps``; the next review is ``review_months`` later (idempotent).
    Members whose tier is no longer configured move to the tier they qualify for whatever it
    is (reason ``tier removed``), due or not (their review date stays)."""
    due = {r.customer_id: r for r in ctx.conn.execute(
        select(members.c.customer_id, members.c.tier, members.c.review_at)
        .where(or_(members.c.review_at <= as_of, removed(s))))}
    if not due:
        return []
    values = qualifying(ctx.conn, s, due, as_of, program_currency(ctx.crm))
    changes, next_review = [], {}
    for customer_id, row in sorted(due.items()):
        current = s.rank(row.tier)
        rank = s.qualified(values.get(customer_id, Decimal(0)))
        if s.removed(row.tier) or rank >= current:
            change = requalified(s, customer_id, row.tier, rank)
        else:
            rank = max(rank, current - s.max_downgrade_steps)
            change = TierChange(customer_id, row.tier, s.tiers[rank].name if rank >= 0 else None,
                                "review")
        if change is not None:
            changes.append(change)
        if row.review_at <= as_of:
            moment = row.review_at
            while moment <= as_of:
                moment = add_months(moment, s.review_months)
            next_review[customer_id] = moment
    if next_review:
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
