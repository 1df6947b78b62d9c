"""Lead-source attribution: leads, conversions and won revenue by where the leads came from.

For the leads created in ``(since, as_of]`` (all up to ``as_of`` without ``since``), per
source (``operational_leads.source``, set by the plugins implementing
``crmkit_lead_sources``; ``(none)`` when no plugin named one): how many leads, how many of
their customers won an opportunity by ``as_of`` (converted), the conversion in per cent,
the opportunities won and their amounts per currency.  Two SQL aggregates.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func, literal, select, type_coerce

from crmkit.plugin import MONEY_SCALE

from .stages import WON
from .tables import leads, opportunities, stage_history

NO_SOURCE = "(none)"
"""The source shown for leads no plugin named a source for."""


def attribution(conn, as_of: dt.datetime, since: dt.datetime | None = None
                ) -> list[dict[str, Any]]:
    """One row per source, most leads first: ``source``, ``leads``, ``converted``,
    ``conversion`` (% of leads, one decimal), ``won`` and ``revenue`` (currency → amount)."""
    source = func.coalesce(leads.c.source, literal(NO_SOURCE)).label("source")
    window = [leads.c.created_at <= as_of]
    if since is not None:
        window.append(leads.c.created_at > since)
    lead_rows = select(leads.c.customer_id, source).where(*window).subquery("src_leads")
    h, o = stage_history, opportunities
    won = (select(h.c.record_id).where(h.c.entity == "opportunity", h.c.to_stage == WON,
                                       h.c.at <= as_of).group_by(h.c.record_id)
           ).subquery("src_won")
    wins = (select(o.c.customer_id, o.c.currency, o.c.amount)
            .join(won, won.c.record_id == o.c.id)).subquery("src_wins")
    converted = select(wins.c.customer_id).distinct().subquery("src_converted")
    counts = conn.execute(
        select(lead_rows.c.source, func.count().label("leads"),
               func.count(converted.c.customer_id).label("converted"))
        .select_from(lead_rows.outerjoin(converted,
                                         converted.c.customer_id == lead_rows.c.customer_id))
        .group_by(lead_rows.c.source)).all()
    units = type_coerce(func.sum(type_coerce(wins.c.amount, BigInteger)), BigInteger)
    money = conn.execute(
        select(lead_rows.c.source, wins.c.currency, func.count().label("won"),
               units.label("units"))
        .join(wins, wins.c.customer_id == lead_rows.c.customer_id)
        .group_by(lead_rows.c.source, wins.c.currency)).all()
    revenue: dict[str, dict[str, Decimal]] = {}
    won_count: dict[str, int] = {}
    for row in money:
        revenue.setdefault(row.source, {})[row.currency] = (
            Decimal(int(row.units or 0)) / MONEY_SCALE)
        won_count[row.source] = won_count.get(row.source, 0) + row.won
    rows = [{"source": r.source, "leads": r.leads, "converted": r.converted,
             "conversion": round(r.converted * 100 / r.leads, 1),
             "won": won_count.get(r.source, 0),
             "revenue": dict(sorted(revenue.get(r.source, {}).items()))} for r in counts]
    return sorted(rows, key=lambda r: (-r["leads"], r["source"]))


__all__ = ["attribution", "NO_SOURCE"]
