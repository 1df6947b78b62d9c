"""What CRM marketing returns over a period: CRM ROI and customer acquisition cost.

For the campaigns created in ``(since, as_of]``, with every input shown:

* benefit = Σ the revenue attributed to them (each campaign's report as of ``as_of``);
* cost = Σ their costs (fixed + per message sent) + the CRM's running cost
  ``costs.crm_per_month`` × the months of the period (days / (365.25 / 12));
* CRM ROI = (benefit − cost) / cost;
* customer acquisition cost (CAC) = (Σ campaign costs + ``costs.acquisition_per_month`` ×
  months) / the new customers of the period (first purchase in it).

Per customer (:func:`acquisition_costs`, the ``crmkit_acquisition_costs`` answer): a
customer is *acquired* by the campaign credited (:mod:`.attribution`: its message within the
attribution window, or its coupon) with their first purchase ever (the earliest, ties by
the lower interaction id); a campaign's cost as of ``as_of`` is shared equally among the
customers it acquired up to ``as_of``, in whole money units, the remainder one unit each to
the lowest customer ids, so the shares add up to the cost exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, case, func, or_, select, type_coerce

from crmkit.plugin import chart_figure, interactions as I, messages, save_chart

from . import attribution
from .report import delivered_by, reached, report
from .settings import Settings
from .tables import campaigns, recipients

CENT = Decimal("0.01")
MONTH_DAYS = Decimal("365.25") / 12


def new_customers(conn, since: dt.datetime, as_of: dt.datetime) -> int:
    """Customers whose first purchase is in ``(since, as_of]``."""
    first = (select(I.c.customer_id, func.min(I.c.occurred_at).label("first"))
             .where(I.c.kind == "purchase", I.c.occurred_at <= as_of)
             .group_by(I.c.customer_id)).subquery("rt_first")
    return int(conn.execute(select(func.count()).where(first.c.first > since)).scalar())


def returns(conn, settings: Settings, currency: str, since: dt.datetime,
            as_of: dt.datetime) -> dict[str, Any]:
    """The inputs, CRM ROI and CAC of the period (amounts in ``currency``, to the cent)."""
    names = list(conn.execute(select(campaigns.c.name)
                              .where(campaigns.c.created_at > since,
                                     campaigns.c.created_at <= as_of)
                              .order_by(campaigns.c.created_at, campaigns.c.id)).scalars())
    lines = [report(conn, settings, currency, name, as_of).all for name in names]
    revenue = sum((line.revenue for line in lines), Decimal(0))
    campaign_cost = sum((line.cost for line in lines), Decimal(0))
    months = Decimal((as_of - since).total_seconds()) / 86400 / MONTH_DAYS
    crm_cost = _cents(settings.crm_per_month * months)
    acquisition_cost = _cents(campaign_cost + settings.acquisition_per_month * months)
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


def campaign_costs(as_of: dt.datetime):
    """Subquery: each campaign's cost as of ``as_of`` in money units (campaign_id, units):
    ``cost_fixed`` + ``cost_per_message`` × the messages sent (delivered or bounced), as
    the campaign's report counts them."""
    r, m, c = recipients.c, messages.c, campaigns.c
    sent = (select(r.campaign_id, func.count().label("sent"))
            .join(messages, m.message_id == r.message_id)
            .where(reached(), or_(delivered_by(as_of), m.status == "bounced"))
            .group_by(r.campaign_id)).subquery("cc_sent")
    units = (type_coerce(c.cost_fixed, BigInteger)
             + type_coerce(c.cost_per_message, BigInteger) * func.coalesce(sent.c.sent, 0))
    return (select(c.id.label("campaign_id"), units.label("units"))
            .outerjoin(sent, sent.c.campaign_id == c.id)).subquery("campaign_costs")


def acquisition_costs(settings: Settings, as_of: dt.datetime,
                      since: dt.datetime | None):
    """SELECT of ``(customer_id, acquired_at, units)``: each customer a campaign acquired in
    ``(since, as_of]`` (first purchase credited to it), their share of its cost in money
    units (see the module's docstring); one statement, window functions."""
    model, days = settings.attribution_model, settings.attribution_days
    i = I.c
    purchases = (select(i.id, i.customer_id, i.occurred_at,
                        func.row_number().over(partition_by=i.customer_id,
                                               order_by=(i.occurred_at, i.id)).label("n"))
                 .where(i.kind == "purchase", i.occurred_at <= as_of)).subquery("ac_purchases")
    credited = attribution.credited("conversion", model, as_of, days)
    acquired = (select(credited.c.campaign_id, purchases.c.customer_id,
                       purchases.c.occurred_at.label("acquired_at"),
                       func.count().over(partition_by=credited.c.campaign_id).label("acquired"),
                       func.row_number().over(partition_by=credited.c.campaign_id,
                                              order_by=purchases.c.customer_id).label("rank"))
                .join(purchases, purchases.c.id == credited.c.interaction_id)
                .where(purchases.c.n == 1)).subquery("ac_acquired")
    cost = campaign_costs(as_of)
    share = (cost.c.units // acquired.c.acquired
             + case((acquired.c.rank <= cost.c.units % acquired.c.acquired, 1), else_=0))
    query = (select(acquired.c.customer_id, acquired.c.acquired_at,
                    type_coerce(share, BigInteger).label("units"))
             .join(cost, cost.c.campaign_id == acquired.c.campaign_id))
    if since is not None:
        query = query.where(acquired.c.acquired_at > since)
    return query


def plot(result: dict[str, Any], path: str) -> Path:
    """Bars of the period's benefit (attributed revenue) against its costs (the campaigns',
    the CRM's running cost), with ROI and CAC in the title."""
    figure = chart_figure(path)
    axes = figure.add_subplot()
    parts = (("revenue", "tab:green"), ("campaign_cost", "tab:red"), ("crm_cost", "tab:orange"))
    bars = axes.bar([name.replace("_", " ") for name, _ in parts],
                    [float(result[name]) for name, _ in parts],
                    color=[colour for _, colour in parts])
    axes.bar_label(bars, fmt="%.2f")
    axes.set_ylabel(result["currency"])
    roi = "none" if result["roi"] is None else f"{result['roi']:+.2f}"
    cac = "none" if result["cac"] is None else f"{result['cac']:.2f}"
    axes.set_title(f"CRM returns: ROI {roi}, CAC {cac} ({result['new_customers']} new "
                   "customers)")
    return save_chart(figure, path)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


__all__ = ["returns", "new_customers", "campaign_costs", "acquisition_costs", "plot"]
