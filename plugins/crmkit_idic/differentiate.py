"""Differentiate: value groups (MVC, MGC, BZ, maintain) and needs groups, stored per run.

Per customer: current value (analytical ``current_value``: last 12 months' net
spend), potential value (analytical ``clv_outcome``: predicted CLV; 0 for
everyone, with the reason kept, when the CLV models cannot be fitted) and
cost to serve (``cost_per_kind`` × service interactions in the last
``cost_window_days`` plus the ``cost_attribute`` attribute).  :func:`classify`
is the rule, a pure function; :func:`run` gathers the inputs and stores a run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

import attrs
from sqlalchemy import and_, exists, func, insert, or_, select

from crmkit.plugin import PluginError, customers, interactions

from . import needs
from .settings import VALUE_GROUPS, Settings
from .tables import groups, runs

ZERO = Decimal("0")
CENT = Decimal("0.01")


@attrs.frozen
class CustomerValue:
    """The inputs of the value rule for one customer."""

    customer_id: int
    current: Decimal
    potential: Decimal
    cost: Decimal


def group_size(share: float, n: int) -> int:
    """``share × n`` rounded half up (0.2 × 10 → 2; 0.25 × 10 → 3)."""
    exact = Decimal(str(share)) * n
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def classify(values: Iterable[CustomerValue], mvc_share: float, mgc_share: float
             ) -> dict[int, str]:
    """The value group of every customer.

    1. ``BZ`` (below zero): cost to serve above both current and potential value.
    2. ``MVC``: of the others with potential value > 0, the top
       ``round(mvc_share × n)`` by potential value (n = all customers given).
    3. ``MGC``: of the rest with potential − current > 0, the next
       ``round(mgc_share × n)`` by that gap.
    4. ``maintain``: everyone else.

    Ties are broken by the lower customer id (the longer-standing customer).
    """
    values = list(values)
    n = len(values)
    result: dict[int, str] = {}
    rest = []
    for v in values:
        if v.cost > v.current and v.cost > v.potential:
            result[v.customer_id] = "BZ"
        else:
            rest.append(v)
    by_potential = sorted((v for v in rest if v.potential > 0),
                          key=lambda v: (-v.potential, v.customer_id))
    for v in by_potential[:group_size(mvc_share, n)]:
        result[v.customer_id] = "MVC"
    growable = sorted((v for v in rest if v.customer_id not in result
                       and v.potential - v.current > 0),
                      key=lambda v: (-(v.potential - v.current), v.customer_id))
    for v in growable[:group_size(mgc_share, n)]:
        result[v.customer_id] = "MGC"
    for v in rest:
        result.setdefault(v.customer_id, "maintain")
    return result


def population(as_of: dt.datetime):
    """SQL condition: customers known at as-of (created by then, or with an interaction by
    then — imports create customers after their history) and not erased."""
    return and_(customers.c.erased_at.is_(None),
                or_(customers.c.created_at <= as_of,
                    exists().where(interactions.c.customer_id == customers.c.id,
                                   interactions.c.occurred_at <= as_of)))


def costs_to_serve(conn, settings: Settings, as_of: dt.datetime) -> dict[int, Decimal]:
    """Cost to serve per customer: priced service interactions in the window plus the attribute."""
    prices = settings.prices
    cost: dict[int, Decimal] = {}
    if prices:
        since = as_of - dt.timedelta(days=settings.cost_window_days)
        query = (select(interactions.c.customer_id, interactions.c.kind, func.count())
                 .where(interactions.c.kind.in_(list(prices)),
                        interactions.c.occurred_at > since, interactions.c.occurred_at <= as_of)
                 .group_by(interactions.c.customer_id, interactions.c.kind))
        for customer_id, kind, count in conn.execute(query):
            cost[customer_id] = cost.get(customer_id, ZERO) + prices[kind] * count
    attribute = customers.c.attributes[settings.cost_attribute].as_float()
    query = select(customers.c.id, customers.c.attributes[settings.cost_attribute]).where(
        attribute.is_not(None), customers.c.erased_at.is_(None))
    for customer_id, value in conn.execute(query):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            cost[customer_id] = cost.get(customer_id, ZERO) + Decimal(str(value))
    return cost


@attrs.frozen
class Differentiation:
    """A differentiation: its run id (None when not saved), when, and group sizes."""

    run_id: int | None
    as_of: dt.datetime
    counts: dict[str, int]
    needs_counts: dict[str, int]
    changed: int
    rows: list[dict[str, Any]]
    clv_missing: str | None = None
    """Why there is no predicted CLV (potential value 0 for everyone), if so."""


def compute(crm, conn, settings: Settings, as_of: dt.datetime
            ) -> tuple[list[dict[str, Any]], str | None]:
    """One row per customer (not erased): values, value group, needs group; and why there is
    no predicted CLV (None when there is)."""
    if "analytical" not in crm.enabled_plugins():
        raise PluginError("idic needs the analytical plugin for customer values: "
                          "`crmkit plugins enable analytical`")
    analytical = crm.plugin("analytical")
    current = analytical.current_value(as_of)
    outcome = analytical.clv_outcome(as_of)
    potential = outcome.values
    cost = costs_to_serve(conn, settings, as_of)
    query = (select(customers.c.id, customers.c.external_id,
                    needs.needs_case(list(settings.needs_groups)).label("needs"))
             .where(population(as_of)).order_by(customers.c.id))
    people = conn.execute(query).all()
    values = [CustomerValue(r.id, _decimal(current.get(r.id)), _decimal(potential.get(r.id)),
                            cost.get(r.id, ZERO))
              for r in people]
    value_group = classify(values, settings.mvc_share, settings.mgc_share)
    return [{"customer_id": v.customer_id, "customer": r.external_id,
             "value_group": value_group[v.customer_id], "needs_group": r.needs,
             "current_value": v.current.quantize(CENT), "potential_value": v.potential.quantize(CENT),
             "cost_to_serve": v.cost.quantize(CENT)} for v, r in zip(values, people)], outcome.missing


def _decimal(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


def latest_run_id(conn, as_of: dt.datetime | None = None) -> int | None:
    """The id of the latest run computed for a moment at or before ``as_of`` (any, if None)."""
    query = select(runs.c.id).order_by(runs.c.as_of.desc(), runs.c.id.desc()).limit(1)
    if as_of is not None:
        query = query.where(runs.c.as_of <= as_of)
    return conn.execute(query).scalar()


def run(crm, tx, settings: Settings, as_of: dt.datetime, save: bool = True
        ) -> Differentiation:
    """Compute the groups; with ``save`` store them as a run and emit ``idic.group_changed``."""
    rows, clv_missing = compute(crm, tx.conn, settings, as_of)
    counts = Counter(r["value_group"] for r in rows)
    counts = {g: counts.get(g, 0) for g in VALUE_GROUPS}
    needs_counts = dict(Counter(r["needs_group"] for r in rows if r["needs_group"]))
    if not save:
        return Differentiation(None, as_of, counts, needs_counts, 0, rows, clv_missing)
    previous_id = latest_run_id(tx.conn, as_of)
    before = {}
    if previous_id is not None:
        before = dict(tx.conn.execute(select(groups.c.customer_id, groups.c.value_group)
                                      .where(groups.c.run_id == previous_id)).all())
    run_id = tx.conn.execute(insert(runs).values(
        as_of=as_of, created_at=tx.now(), actor=tx.actor,
        settings={"mvc_share": settings.mvc_share, "mgc_share": settings.mgc_share,
                  "cost_per_kind": settings.cost_per_kind,
                  "cost_window_days": settings.cost_window_days,
                  "needs_groups": [g["name"] for g in settings.needs_groups],
                  "clv_missing": clv_missing},
        counts={"value": counts, "needs": needs_counts}).returning(runs.c.id)).scalar_one()
    if rows:
        tx.conn.execute(insert(groups), [
            {"run_id": run_id, **{k: r[k] for k in ("customer_id", "value_group", "needs_group",
                                                     "current_value", "potential_value",
                                                     "cost_to_serve")}} for r in rows])
    ctx = tx.context("idic")
    changed = 0
    for r in rows:
        old = before.get(r["customer_id"])
        if old != r["value_group"]:
            changed += 1
            ctx.emit("idic.group_changed", r["customer_id"],
                     {"from": old, "to": r["value_group"], "run_id": run_id})
    return Differentiation(run_id, as_of, counts, needs_counts, changed, rows, clv_missing)
