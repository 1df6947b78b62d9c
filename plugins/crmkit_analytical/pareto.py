"""Pareto analysis: how concentrated revenue (or another money measure) is across customers.

Customers with a purchase up to ``as_of`` (optionally after ``since``) are
ranked by net spend, highest first (ties by customer id); with another
measure (``margin``, ``profit``: a plugin's ``crmkit_customer_measure``) the
customers that measure lists are ranked by it.  With n customers and total R:

* top customers = ⌈top_share · n⌉ (default 20 %); their share of R;
* the smallest set reaching ``revenue_share`` of R (default 80 %): the least k
  with cumulative revenue of the top k ≥ revenue_share · R, and k / n.

Ranks and running sums are window functions in SQL; shares are compared as
exact fractions of integer money units.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import case, func, literal, or_, select

from crmkit.plugin import MONEY_SCALE, interactions as I

from . import sales
from .results import Pareto

if TYPE_CHECKING:
    from .settings import Settings


def _ranked(settings: Settings, as_of: dt.datetime, since: dt.datetime | None, values=None):
    if values is None:
        per = (select(I.c.customer_id, func.sum(sales.net_units(settings)).label("net"))
               .where(sales.sales_kinds(settings), sales.within(as_of, since))
               .group_by(I.c.customer_id)
               .having(func.sum(sales.purchase_flag(settings)) > 0)).subquery("pa_per")
    else:
        given = values.subquery("pa_values")
        per = select(given.c.customer_id, given.c.units.label("net")).subquery("pa_per")
    order = (per.c.net.desc(), per.c.customer_id)
    return select(per.c.net,
                  func.row_number().over(order_by=order).label("rn"),
                  func.sum(per.c.net).over(order_by=order, rows=(None, 0)).label("cum"),
                  func.count().over().label("n"),
                  func.sum(per.c.net).over().label("total")).subquery("pa_ranked")


def _share(part, whole) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def analyse(conn, settings: Settings, as_of: dt.datetime, since: dt.datetime | None = None,
            curve_points: int = 0, values=None, measure: str = "revenue") -> Pareto:
    """Revenue concentration; ``curve_points`` > 0 also samples the cumulative curve for a chart.

    ``values``: a SELECT of ``(customer_id, units)`` of the ``measure`` to rank by instead of
    revenue."""
    top = settings.pareto.top_share
    target = settings.pareto.revenue_share
    ranked = _ranked(settings, as_of, since, values)
    in_top = (ranked.c.rn - 1) * top.denominator < ranked.c.n * top.numerator
    reaches = ranked.c.cum * target.denominator >= ranked.c.total * target.numerator
    row = conn.execute(select(
        func.max(ranked.c.n).label("n"), func.max(ranked.c.total).label("total"),
        func.sum(case((in_top, 1), else_=0)).label("top_n"),
        func.sum(case((in_top, ranked.c.net), else_=0)).label("top_net"),
        func.min(case((reaches, ranked.c.rn))).label("k"))).one()
    n = int(row.n or 0)
    total = int(row.total or 0)
    curve: list[tuple[float, float]] = []
    if curve_points and n:
        step = max(1, n // curve_points)
        points = conn.execute(select(ranked.c.rn, ranked.c.cum)
                              .where(or_(ranked.c.rn % step == 0, ranked.c.rn == ranked.c.n,
                                         ranked.c.rn == literal(1)))
                              .order_by(ranked.c.rn)).all()
        curve = [(0.0, 0.0)] + [(rn / n * 100, (float(cum) / total * 100) if total else 0.0)
                                for rn, cum in points]
    k = int(row.k or 0)
    return Pareto(customers=n, revenue=(Decimal(total) / MONEY_SCALE).quantize(Decimal("0.01")),
                  top_share=float(top), top_customers=int(row.top_n or 0),
                  top_revenue_share=_share(int(row.top_net or 0), total) if total > 0 else None,
                  revenue_target=float(target), customers_for_target=k,
                  customer_share_for_target=_share(k, n) if k else None, curve=curve,
                  measure=measure)
