"""Customer retention per calendar period: CRR = (E − N) / S × 100, churn = 100 − CRR.

A customer *counts* at an instant t when they made a purchase in
``[t − lapsed_days days, t]`` (they are not lapsed; ``lifecycle.lapsed_days``,
default 180).  For a period from ``start`` to ``end`` (UTC calendar months,
quarters or years; the last whole periods before ``as_of``):

* S = customers counting at ``start``; E = customers counting at ``end``;
* N = customers counting at ``end`` who did not count at ``start`` (first-time
  buyers and customers won back), so E − N is exactly the customers kept;
* ``acquired`` = customers whose first purchase fell in ``(start, end]``.

Known answer: S = 100, E = 90, N = 20 → CRR = 70.0, churn = 30.0.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, literal, select, union_all

from crmkit.plugin import UTCDateTime, interactions as I

from . import periods, sales
from .results import RetentionPeriod

if TYPE_CHECKING:
    from .settings import Settings


def crr(start_customers: int, end_customers: int, new_customers: int) -> float | None:
    """CRR = (E − N) / S × 100, rounded half up to 0.1; None when S = 0."""
    if start_customers <= 0:
        return None
    value = Decimal(end_customers - new_customers) * 100 / Decimal(start_customers)
    return float(value.quantize(Decimal("0.1"), ROUND_HALF_UP))


def churn(rate: float | None) -> float | None:
    """Churn = 100 − CRR."""
    return None if rate is None else float((Decimal("100") - Decimal(repr(rate))).quantize(Decimal("0.1")))


def counting(conn, settings: Settings, moments: list[dt.datetime]):
    """For each instant, who counts: returns (count per instant, new-vs-previous per instant)."""
    lapsed = dt.timedelta(days=settings.lifecycle.lapsed_days)
    bounds = [(m - lapsed, m) for m in moments]
    windows = union_all(*[select(literal(i).label("i"), literal(lo, UTCDateTime).label("lo"),
                                 literal(hi, UTCDateTime).label("hi"))
                          for i, (lo, hi) in enumerate(bounds)]).subquery("ret_windows")
    active = (select(windows.c.i, I.c.customer_id)
              .select_from(windows.join(I, and_(I.c.occurred_at >= windows.c.lo,
                                               I.c.occurred_at <= windows.c.hi)))
              .where(sales.is_purchase(settings))
              .group_by(windows.c.i, I.c.customer_id)).subquery("ret_active")
    before = active.alias("ret_before")
    rows = conn.execute(
        select(active.c.i, func.count().label("n"),
               func.count().filter(before.c.customer_id.is_(None)).label("fresh"))
        .select_from(active.outerjoin(before, and_(before.c.customer_id == active.c.customer_id,
                                                   before.c.i == active.c.i - 1)))
        .group_by(active.c.i))
    totals = {i: 0 for i in range(len(moments))}
    fresh = dict(totals)
    for row in rows:
        totals[row.i], fresh[row.i] = int(row.n), int(row.fresh)
    return totals, fresh


def acquired(conn, settings: Settings, spans: list[tuple[dt.datetime, dt.datetime]]) -> list[int]:
    """Customers whose first purchase fell in each ``(start, end]``."""
    first = (select(I.c.customer_id, func.min(I.c.occurred_at).label("first"))
             .where(sales.is_purchase(settings), I.c.occurred_at <= spans[-1][1])
             .group_by(I.c.customer_id)).subquery("ret_first")
    windows = union_all(*[select(literal(i).label("i"), literal(s, UTCDateTime).label("lo"),
                                 literal(e, UTCDateTime).label("hi"))
                          for i, (s, e) in enumerate(spans)]).subquery("ret_spans")
    rows = dict(conn.execute(
        select(windows.c.i, func.count())
        .select_from(windows.join(first, and_(first.c.first > windows.c.lo,
                                              first.c.first <= windows.c.hi)))
        .group_by(windows.c.i)).all())
    return [int(rows.get(i, 0)) for i in range(len(spans))]


def between(conn, settings: Settings, start: dt.datetime, end: dt.datetime,
            name: str = "") -> RetentionPeriod:
    """Retention over one span (any two instants)."""
    totals, fresh = counting(conn, settings, [start, end])
    got = acquired(conn, settings, [(start, end)])[0]
    rate = crr(totals[0], totals[1], fresh[1])
    return RetentionPeriod(name, start, end, totals[0], totals[1], fresh[1], got, rate, churn(rate))


def report(conn, settings: Settings, as_of: dt.datetime, period: str = "month",
           count: int = 12) -> list[RetentionPeriod]:
    """Retention for the last ``count`` whole periods before ``as_of``, oldest first."""
    spans = periods.complete_periods(as_of, period, count)
    moments = [spans[0][0]] + [end for _, end in spans]
    totals, fresh = counting(conn, settings, moments)
    got = acquired(conn, settings, spans)
    out = []
    for i, (start, end) in enumerate(spans):
        rate = crr(totals[i], totals[i + 1], fresh[i + 1])
        out.append(RetentionPeriod(periods.label(start, period), start, end, totals[i],
                                   totals[i + 1], fresh[i + 1], got[i], rate, churn(rate)))
    return out
