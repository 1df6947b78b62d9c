"""What CRM marketing returns over a period: CRM ROI and customer acquisition cost.

For the campaigns created in ``(since, as_of]``, with every input shown:

* benefit = Σ the revenue attributed to them (each campaign's report as of ``as_of``);
* cost = Σ their costs (fixed + per message sent) + the CRM's running cost
  ``costs.crm_per_month`` × the months of the period (days / (365.25 / 12));
* CRM ROI = (benefit − cost) / cost;
* customer acquisition cost (CAC) = (Σ campaign costs + ``costs.acquisition_per_month`` ×
  months) / the new customers of the period (first purchase in it).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from crmkit.plugin import interactions as I

from .report import report
from .tables import campaigns

CENT = Decimal("0.01")
MONTH_DAYS = Decimal("365.25") / 12


def new_customers(conn, since: dt.datetime, as_of: dt.datetime) -> int:
    """Customers whose first purchase is in ``(since, as_of]``."""
    first = (select(I.c.customer_id, func.min(I.c.occurred_at).label("first"))
             .where(I.c.kind == "purchase", I.c.occurred_at <= as_of)
             .group_by(I.c.customer_id)).subquery("rt_first")
    return int(conn.execute(select(func.count()).where(first.c.first > since)).scalar())


def returns(conn, config: dict[str, Any], currency: str, since: dt.datetime,
            as_of: dt.datetime) -> dict[str, Any]:
    """The inputs, CRM ROI and CAC of the period (amounts in ``currency``, to the cent)."""
    names = list(conn.execute(select(campaigns.c.name)
                              .where(campaigns.c.created_at > since,
                                     campaigns.c.created_at <= as_of)
                              .order_by(campaigns.c.created_at, campaigns.c.id)).scalars())
    lines = [report(conn, config, currency, name, as_of).all for name in names]
    revenue = sum((line.revenue for line in lines), Decimal(0))
    campaign_cost = sum((line.cost for line in lines), Decimal(0))
    months = Decimal((as_of - since).total_seconds()) / 86400 / MONTH_DAYS
    costs = config["costs"]
    crm_cost = _cents(Decimal(str(costs["crm_per_month"])) * months)
    acquisition_cost = _cents(campaign_cost + Decimal(str(costs["acquisition_per_month"])) * months)
    cost = campaign_cost + crm_cost
    acquired = new_customers(conn, since, as_of)
    return {
        "since": since, "as_of": as_of, "currency": currency, "campaigns": names,
        "months": float(months.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "revenue": _cents(revenue), "campaign_cost": _cents(campaign_cost),
        "crm_cost": crm_cost, "cost": _cents(cost),
        "roi": _cents((revenue - cost) / cost) if cost else None,
        "acquisition_cost": acquisition_cost, "new_customers": acquired,
        "cac": _cents(acquisition_cost / acquired) if acquired else None}


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


__all__ = ["returns", "new_customers"]
