"""The react step: purchases earn points, milestones pay bonuses, refunds reverse earnings.

Earning is set-based SQL over the batch's id range (``id BETWEEN first_id AND
last_id``): one upsert enrols new members and counts purchases, one INSERT …
SELECT writes the earn rows (eligible amounts, tier multipliers and the floor
in exact integer money units), one query finds the members who owe points or
crossed a milestone.  Who bought and how many purchases each made come from
the batch's customer deltas (:meth:`crmkit.Batch.customer_deltas`, computed
once for every plugin), so milestones are found from each member's count
before the batch plus what the batch added, never by reading history.  Only
those members, and the tier upgrades, come back to Python.  Refunds, which
consume lots first-in-first-out, are worked out per refund.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import (BigInteger, String, and_, case, cast, exists, func, insert, literal,
                        null, or_, select, true, type_coerce, union)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import CTE

from crmkit.plugin import (MONEY_SCALE, UTCDateTime, add_days, add_months, at_least_zero,
                           customers, interactions)

from . import inactivity, ledger as lg
from .line_items import excluded_by_interaction, excluded_units
from .portable import integer_pairs, second_new_year
from .settings import Settings, program_currency, settings_of
from .tables import MAX_POINTS, ledger, members, milestones
from .tiers import upgrade

LEDGER_COLUMNS = ("customer_id", "at", "type", "source", "points", "owed_change", "reason",
                  "interaction_id", "expires_at", "available_at", "recorded_at", "actor")
"""The ledger columns the INSERT … SELECT statements fill (the rest stay NULL)."""


def react(ctx, batch) -> None:
    """Earn, pay owed points, award milestones, reverse refunds and upgrade tiers for a batch."""
    bought = purchase_counts(ctx, batch)
    refunds = [r for r in batch.rows if r["kind"] == "refund"
               and isinstance((r.get("payload") or {}).get("refund_of"), str)]
    if bought is None and not refunds:
        return
    s = settings_of(ctx)
    scope = []
    if bought is not None:
        earn(ctx, s, batch, bought)
        scope.append(select(bought.c.key))
    if refunds:
        reversed_for = reverse_refunds(ctx, s, refunds)
        if reversed_for:
            scope.append(select(customers.c.id).where(customers.c.id.in_(sorted(reversed_for))))
    if scope:
        upgrade(ctx, s, scope[0] if len(scope) == 1 else union(*scope), ctx.now())


def batch_purchases(batch):
    """Condition: an interaction is one of the batch's purchases."""
    return and_(interactions.c.id.between(batch.first_id, batch.last_id),
                interactions.c.kind == "purchase")


def purchase_counts(ctx, batch) -> CTE | None:
    """CTE ``loyalty_bought(key: customer id, value: purchases)`` of the batch's purchasers,
    from its customer deltas; None when the batch has no purchase."""
    counts = {customer_id: kinds["purchase"].count
              for customer_id, kinds in batch.customer_deltas(ctx.conn).items()
              if "purchase" in kinds}
    return integer_pairs("loyalty_bought", counts, ctx.conn.dialect.name) if counts else None


def earn(ctx, s: Settings, batch, bought: CTE) -> None:
    """Enrol new members, count purchases, write earn rows and milestone bonuses; settle debts.

    ``bought`` is :func:`purchase_counts`' CTE of the batch."""
    conn, currency = ctx.conn, program_currency(ctx.crm)
    count_purchases(conn, s, batch, currency)
    stamps = {"recorded_at": literal(ctx.now(), UTCDateTime()),
              "actor": literal(ctx.actor, String())}
    excluded = excluded_by_interaction(batch.rows, s.excluded_categories)
    pairs = integer_pairs("loyalty_excluded", excluded, conn.dialect.name) if excluded else None
    conn.execute(insert(ledger).from_select(LEDGER_COLUMNS,
                                            earn_rows(s, batch, stamps, currency, pairs)))
    owing, crossing = {}, {}
    for customer_id, owed, start, count, fresh in conn.execute(member_states(s, bought)):
        if owed > 0:
            owing[customer_id] = owed
        if count is not None and fresh:
            crossing[customer_id] = (start, count)
    award_milestones(ctx, s, batch, crossing)
    if owing:
        lg.lock_members(conn, owing)
        lg.settle_owed(conn, owing, ctx.now(), ctx.actor, inactivity.of(s, ctx.now()))


def purchase_amount():
    """SQL: an interaction's amount in money units, NULL as 0."""
    return func.coalesce(type_coerce(interactions.c.amount, BigInteger()), 0)


def in_currency(currency: str, units):
    """SQL: ``units`` for an interaction in ``currency`` (the program's,
    :func:`.settings.program_currency`), 0 for one in any other currency."""
    return case((interactions.c.currency == currency, units), else_=0)


def count_purchases(conn, s: Settings, batch, currency: str) -> None:
    """One upsert: add the batch's purchases to each member's count and raise their upgrade
    ceiling by the most those purchases can earn (see :mod:`.ceiling`), and make every
    purchaser not yet a member one (joined at their first purchase in the batch, reviewed
    ``review_months`` later, ceiling unknown)."""
    i, current = interactions.c, members.alias("current")
    # only purchases dated inside what the ceiling covers raise it; NULL (unknown) stays NULL
    covered = case((i.occurred_at > current.c.ceiling_from,
                    in_currency(currency, at_least_zero(purchase_amount()))),
                   else_=0)
    counts = (select(i.customer_id, func.count().label("n"),
                     func.min(i.occurred_at).label("first_at"),
                     cast(func.sum(covered), BigInteger).label("units"),
                     func.max(current.c.tier).label("tier"),
                     func.max(current.c.qualifying_ceiling).label("ceiling"))
              .select_from(interactions.outerjoin(current, current.c.customer_id == i.customer_id))
              .where(batch_purchases(batch)).group_by(i.customer_id).subquery())
    # earn_rows' rate on the amounts before excluded items: Σ floor(xᵢ) ≤ floor(Σ xᵢ)
    numerator, denominator = tier_numerator(s, counts.c.tier)
    ceiling = counts.c.ceiling + scaled_floor(counts.c.units, numerator, denominator)
    rows = (select(counts.c.customer_id, counts.c.first_at, null(), null(),
                   add_months(counts.c.first_at, s.review_months), counts.c.n, literal(0),
                   ceiling)
            .where(true()))     # SQLite: a WHERE before ON CONFLICT keeps the parse unambiguous
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(members).from_select(
        ["customer_id", "joined_at", "tier", "tier_since", "review_at", "purchases", "owed",
         "qualifying_ceiling"], rows)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={"purchases": members.c.purchases + statement.excluded.purchases,
              "qualifying_ceiling": statement.excluded.qualifying_ceiling}))


def member_states(s: Settings, bought: CTE):
    """SELECT ``(customer_id, owed, start, count, fresh)`` of the batch's purchasers
    (``bought``: :func:`purchase_counts`) who owe points or crossed a milestone (run after
    the counts were updated): ``start`` is their purchase count before the batch, ``count``
    the highest milestone reached (start < count <= start + n), ``fresh`` whether it was
    never awarded before."""
    counts = bought.alias("counts")
    start = members.c.purchases - counts.c.value
    reached = (case(*[(and_(start < c, members.c.purchases >= c), c)
                      for c in sorted(s.milestones, reverse=True)])
               if s.milestones else null())
    fresh = ~exists().where(milestones.c.customer_id == counts.c.key,
                            milestones.c.count == reached)
    return (select(counts.c.key, members.c.owed, start, reached, fresh)
            .join_from(counts, members, members.c.customer_id == counts.c.key)
            .where(or_(members.c.owed > 0, and_(reached.is_not(None), fresh))))


def lot_expiry(s: Settings, at):
    """SQL: when a lot earned at ``at`` expires (the SQL twin of ``Settings.lot_expiry``)."""
    if s.expiry_mode == "rolling":
        return add_months(at, s.expiry_months)
    if s.expiry_mode == "calendar":
        return second_new_year(at)
    return null()


def too_many_points(s: Settings, rows: list[dict[str, Any]], currency: str
                    ) -> list[tuple[int, str, str]]:
    """Problems of the purchases in ``currency`` (the program's) whose eligible amount could
    earn more points than one ledger entry holds (:data:`.tables.MAX_POINTS`) at the highest
    tier's rate: refused before anything is written, instead of an integer overflow in the
    write."""
    multiplier = max((t.multiplier for t in s.tiers), default=Decimal(1))
    multiplier = max(multiplier, Decimal(1))
    rate = s.points_per_unit * multiplier
    problems = []
    for index, row in enumerate(rows):
        amount = row.get("amount")
        if row.get("kind") != "purchase" or amount is None or row.get("currency") != currency:
            continue
        # excluded items with negative amounts raise what earns above the amount
        eligible = amount - Decimal(excluded_units(row.get("payload"), s.excluded_categories)
                                    ) / MONEY_SCALE
        if eligible * rate <= MAX_POINTS:
            continue
        what = f"{amount}" if eligible == amount else f"{amount} (eligible {eligible})"
        problems.append((index, "amount", f"{what} would earn up to {int(eligible * rate)} "
                         f"loyalty points (points_per_unit {s.points_per_unit} × tier "
                         f"multiplier {multiplier}); one ledger entry holds at most "
                         f"{MAX_POINTS}"))
    return problems


def earn_factors(s: Settings) -> tuple[dict[str | None, int], int]:
    """``points = floor(units × numerator / denominator)`` per tier, exact.

    ``units`` are money units (``MONEY_SCALE`` per currency unit); the numerator
    of a tier is points_per_unit × its multiplier over a denominator common to
    all tiers (``None``: members without a configured tier, multiplier 1).
    """
    factors = {None: Fraction(s.points_per_unit)}
    factors.update({t.name: Fraction(s.points_per_unit * t.multiplier) for t in s.tiers})
    common = math.lcm(*(f.denominator for f in factors.values()))
    return ({name: int(f * common) for name, f in factors.items()}, common * MONEY_SCALE)


def tier_numerator(s: Settings, tier) -> tuple[Any, int]:
    """``(SQL numerator, denominator)`` of the earning rate for the tier named by the SQL
    ``tier`` (see :func:`earn_factors`)."""
    numerators, denominator = earn_factors(s)
    by_tier = [(tier == name, n) for name, n in numerators.items()
               if name is not None and n != numerators[None]]
    numerator = case(*by_tier, else_=numerators[None]) if by_tier else literal(numerators[None])
    return numerator, denominator


def scaled_floor(units, numerator, denominator: int):
    """SQL: floor(units × numerator / denominator) for integers ≥ 0, computed as
    q × n + (r × n) div d with q, r = divmod(units, d) so that the integers stay far
    from 64-bit overflow."""
    return units // denominator * numerator + (units % denominator) * numerator // denominator


def earn_rows(s: Settings, batch, stamps: dict[str, Any], currency: str,
              excluded: CTE | None = None):
    """SELECT of the earn rows of the batch's purchases (those earning more than 0 points).

    eligible = max(amount − excluded line items, 0) in money units for a purchase in
    ``currency`` (the program's), 0 for any other; ``excluded``
    being ``(key: interaction id, value: units)`` of the purchases with any
    (:mod:`.line_items`); points = floor(eligible × rate × multiplier of the
    member's tier before the batch).
    """
    i = interactions.c
    amount = purchase_amount()
    source = interactions.join(members, members.c.customer_id == i.customer_id)
    if excluded is not None:
        source = source.outerjoin(excluded, excluded.c.key == i.id)
        amount = amount - func.coalesce(excluded.c.value, 0)
    numerator, denominator = tier_numerator(s, members.c.tier)
    # materialised: ``eligible`` is worked out once per purchase, not once per use
    units = (select(i.id, i.customer_id, i.occurred_at, i.external_id,
                    in_currency(currency, at_least_zero(amount)).label("eligible"),
                    numerator.label("n"))
             .select_from(source)
             .where(batch_purchases(batch)).cte("loyalty_units").prefix_with("MATERIALIZED"))
    points = scaled_floor(units.c.eligible, units.c.n, denominator)
    earned = select(units, points.label("points")).subquery()
    purchase = func.coalesce(func.nullif(earned.c.external_id, ""),
                             cast(earned.c.id, String()))
    return (select(earned.c.customer_id, earned.c.occurred_at, literal("earn"),
                   literal("purchase"), earned.c.points, literal(0),
                   literal("purchase ") + purchase, earned.c.id,
                   lot_expiry(s, earned.c.occurred_at), add_days(earned.c.occurred_at, s.lock_days),
                   stamps["recorded_at"], stamps["actor"])
            .where(earned.c.points > 0).order_by(earned.c.customer_id, earned.c.id))


def award_milestones(ctx, s: Settings, batch, crossing: dict[int, tuple[int, int]]) -> None:
    """Pay the milestones members crossed in this batch: ``crossing`` maps a customer to
    ``(purchases before the batch, milestone count)``.

    The bonus is an earn row dated at the purchase that reached the count, a
    ``loyalty_milestones`` row (its primary key makes a second award impossible)
    and a ``milestone.reached`` event; rows are appended with one executemany each.
    """
    if not crossing:
        return
    conn = ctx.conn
    reaching = reaching_purchases(batch.rows, crossing)
    bonuses = [(reaching[c], crossing[c][1], s.milestones[crossing[c][1]])
               for c in sorted(reaching)]
    rows = [{"customer_id": row["customer_id"], "at": row["occurred_at"], "type": "earn",
             "source": "milestone", "points": points, "interaction_id": row["id"],
             "reason": f"milestone: purchase {count}",
             "expires_at": s.lot_expiry(row["occurred_at"]), "available_at": row["occurred_at"]}
            for row, count, points in bonuses]
    ids = lg.append(conn, rows, ctx.now(), ctx.actor)
    conn.execute(insert(milestones), [
        {"customer_id": row["customer_id"], "count": count, "ledger_id": ledger_id,
         "reached_at": row["occurred_at"]} for (row, count, _), ledger_id in zip(bonuses, ids)])
    for row, count, points in bonuses:
        ctx.emit("milestone.reached", row["customer_id"], {"count": count, "points": points})


def reaching_purchases(rows: list[dict[str, Any]], crossing: dict[int, tuple[int, int]]
                       ) -> dict[int, dict[str, Any]]:
    """For each member in ``crossing`` (``(purchases before the batch, milestone count)``),
    the batch row (in id order) of the purchase that brought them to the count."""
    seen: dict[int, int] = {}
    reaching = {}
    for row in rows:
        customer_id = row["customer_id"]
        if row["kind"] != "purchase" or customer_id not in crossing:
            continue
        seen[customer_id] = done = seen.get(customer_id, 0) + 1
        start, count = crossing[customer_id]
        if start + done == count:
            reaching[customer_id] = row
    return reaching


def reverse_refunds(ctx, s: Settings, refunds: list[dict[str, Any]]) -> set[int]:
    """Reverse what each refunded purchase earned: from its own lot first, then FIFO, taking
    only points earned by the refund's date and not expired then (locked ones included); owe
    the rest, paid off at once from what later earnings already recorded hold."""
    conn, now = ctx.conn, ctx.now()
    refs = sorted({r["payload"]["refund_of"] for r in refunds})
    purchases = {}
    for start in range(0, len(refs), lg.CHUNK):
        purchases.update({row.external_id: row for row in conn.execute(
            select(interactions.c.id, interactions.c.amount, interactions.c.external_id)
            .where(interactions.c.external_id.in_(refs[start:start + lg.CHUNK]),
                   interactions.c.kind == "purchase"))})
    if not purchases:
        return set()
    # the core records a refund only on its purchase's customer (after a merge, the survivor)
    customers = {r["customer_id"] for r in refunds}
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
    # a lapse at or before a refund is the same whatever later activity the rule sees
    rule = inactivity.of(s, max(r["occurred_at"] for r in refunds))
    lots = lg.open_lots(conn, customers, inactivity=rule,
                        written_off_after=min(r["occurred_at"] for r in refunds))
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
        uses = lg.take(lots.get(earning.customer_id, []), want, refund["occurred_at"],
                       first=[earning.id], locked=True)
        taken = sum(use.points for use in uses)
        rows.append({"customer_id": earning.customer_id, "at": refund["occurred_at"],
                     "type": "reverse", "source": "refund", "points": -taken,
                     "owed_change": want - taken, "interaction_id": refund["id"],
                     "related_id": earning.id, "uses": uses,
                     "reason": f"refund {refund['external_id'] or refund['id']} of purchase "
                               f"{purchase.external_id}"})
        owed[earning.customer_id] = owed.get(earning.customer_id, 0) + want - taken
    lg.append(conn, rows, now, ctx.actor)
    lg.change_owed(conn, owed)
    lg.settle_owed(conn, {c: locked[c]["owed"] + more for c, more in owed.items() if more},
                   now, ctx.actor, inactivity.of(s, now))
    return {r["customer_id"] for r in rows}


def refund_points(earned: int, already: int, refunded: Decimal | None,
                  paid: Decimal | None) -> int:
    """Points one refund reverses: all that is left of the earning for a full (or unpriced) refund,
    else ceil(earned × refunded / paid), never more than is left."""
    left = earned - already
    if refunded is None or not paid or refunded >= paid:
        return max(left, 0)
    return max(min(left, math.ceil(Decimal(earned) * refunded / paid)), 0)
