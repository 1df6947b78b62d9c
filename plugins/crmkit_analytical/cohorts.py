"""Cohorts: customers grouped by the UTC month of their first purchase.

For cohort c (size n_c) and k = 0, 1, … months after the first purchase month:
share = customers of c purchasing in month c + k ÷ n_c × 100 (month 0 is 100 %
by construction), revenue per member = net spend of c in month c + k ÷ n_c.
Computed in SQL (first purchase month per customer, then one GROUP BY over
cohort and k); the ``cohorts`` most recent cohort months up to ``as_of`` are
shown, each for up to ``months`` months after (never beyond ``as_of``).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import case, distinct, func, select

from crmkit.plugin import MONEY_SCALE, ValidationError, interactions as I

from . import sales
from .results import CohortCell
from .sql import month_label, month_number, month_of

if TYPE_CHECKING:
    from .settings import Settings


def matrix(conn, settings: Settings, as_of: dt.datetime, cohorts: int = 12,
           months: int = 12) -> list[CohortCell]:
    """The cohort matrix as cells, by cohort then month."""
    if cohorts < 1 or months < 0:
        raise ValidationError(f"cohorts: {cohorts} must be >= 1 and months: {months} >= 0")
    last = month_of(as_of)
    month = month_number(I.c.occurred_at)
    first = (select(I.c.customer_id, func.min(month).label("cohort"))
             .where(sales.is_purchase(settings), sales.within(as_of))
             .group_by(I.c.customer_id)).subquery("co_first")
    oldest = last - cohorts + 1
    sizes = dict(conn.execute(select(first.c.cohort, func.count())
                              .where(first.c.cohort >= oldest).group_by(first.c.cohort)).all())
    k = (month - first.c.cohort).label("k")
    buyer = func.count(distinct(case((sales.is_purchase(settings), I.c.customer_id))))
    rows = conn.execute(
        select(first.c.cohort, k, buyer.label("buyers"),
               func.sum(sales.net_units(settings)).label("net"))
        .select_from(first.join(I, I.c.customer_id == first.c.customer_id))
        .where(first.c.cohort >= oldest, sales.sales_kinds(settings), sales.within(as_of),
               month >= first.c.cohort, month - first.c.cohort <= months)
        .group_by(first.c.cohort, k).order_by(first.c.cohort, k))
    found = {(r.cohort, r.k): r for r in rows}
    cells = []
    for cohort in sorted(sizes):
        size = int(sizes[cohort])
        for offset in range(0, min(months, last - cohort) + 1):
            row = found.get((cohort, offset))
            buyers = int(row.buyers) if row is not None else 0
            net = Decimal(int(row.net or 0)) / MONEY_SCALE if row is not None else Decimal(0)
            cells.append(CohortCell(
                month_label(cohort), size, offset, buyers,
                float((Decimal(buyers) * 100 / size).quantize(Decimal("0.1"), ROUND_HALF_UP)),
                net.quantize(Decimal("0.01")),
                (net / size).quantize(Decimal("0.01"), ROUND_HALF_UP)))
    return cells
