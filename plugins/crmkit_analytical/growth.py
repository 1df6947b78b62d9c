"""Sales growth period over period, on revenue or on a plugin's money measure.

For each of the last ``count`` whole calendar periods before ``as_of`` (and the
period before the first, so every row has a previous value): the measure over
the period, the previous period's, the change and the growth in per cent,
``(this − previous) / previous × 100`` (empty when the previous is 0).  Revenue
is net spend (purchases minus refunds); another measure (``margin`` with the
catalogue plugin) is the sum over customers of the plugin's SELECT of
``(customer_id, units)`` for the period.  Every sum is one SQL aggregate.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import func, select

from . import periods, sales
from .results import GrowthRow
from .sql import to_decimal

if TYPE_CHECKING:
    from .settings import Settings

ONE_MICROSECOND = dt.timedelta(microseconds=1)

MeasureQuery = Callable[[dt.datetime, dt.datetime], Any]
"""``(as_of, since) -> SELECT (customer_id, units)`` of a plugin's measure, or None."""


def total(conn, settings: Settings, start: dt.datetime, end: dt.datetime,
          measure_query: MeasureQuery | None) -> Decimal:
    """The measure over ``[start, end)``: net revenue, or the plugin measure's sum."""
    last, before = end - ONE_MICROSECOND, start - ONE_MICROSECOND
    if measure_query is None:
        query = (select(func.sum(sales.net_units(settings)))
                 .where(sales.sales_kinds(settings), sales.within(last, before)))
    else:
        per_customer = measure_query(last, before).subquery("growth_measure")
        query = select(func.sum(per_customer.c.units))
    return to_decimal(conn.execute(query).scalar())


def growth_percent(value: Decimal, previous: Decimal) -> float | None:
    """``(value − previous) / previous × 100`` to one decimal; None when previous is 0."""
    if previous == 0:
        return None
    change = (value - previous) * 100 / abs(previous)
    return float(change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def rows(conn, settings: Settings, as_of: dt.datetime, period: str, count: int,
         measure_query: MeasureQuery | None) -> list[GrowthRow]:
    """The last ``count`` whole periods before ``as_of``, oldest first, with their growth."""
    spans = periods.complete_periods(as_of, period, count + 1)
    totals = [total(conn, settings, start, end, measure_query) for start, end in spans]
    return [GrowthRow(periods.label(start, period), start, end, totals[i + 1], totals[i],
                      totals[i + 1] - totals[i], growth_percent(totals[i + 1], totals[i]))
            for i, (start, end) in enumerate(spans[1:])]


def period_to_date(conn, settings: Settings, start: dt.datetime, moment: dt.datetime,
                   period: str, measure_query: MeasureQuery | None = None) -> float | None:
    """Growth of revenue (or the measure) of ``[start, moment]`` over the same span of the
    period before (the SMART KPI ``sales_growth``)."""
    previous_start = periods.add(start, period, -1)
    span = moment - start
    previous_end = min(previous_start + span, start - ONE_MICROSECOND)
    this = total(conn, settings, start, moment + ONE_MICROSECOND, measure_query)
    before = total(conn, settings, previous_start, previous_end + ONE_MICROSECOND, measure_query)
    return growth_percent(this, before)


__all__ = ["rows", "total", "growth_percent", "period_to_date"]
