"""Sales-cycle length: from a lead's creation to its opportunity won, per won opportunity.

A won opportunity's cycle starts when its customer's lead entered the funnel (the lead's
first stage-history row), or when the opportunity itself was opened when there is no lead,
the lead came after it, or the opportunity renews another (a renewal's cycle is its own).
It ends at the opportunity's first move to ``won``.  Each row carries the source of the
customer's lead (``(none)`` without one, as in lead-source attribution).  The rows come from
the stage history in one SQL query; their median and quartiles are taken over those rows.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from sqlalchemy import and_, case, func, literal, select

from crmkit.plugin import customers

from .sources import NO_SOURCE
from .stages import WON
from .tables import leads, opportunities, stage_history

BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"), (None, "181+"))
"""The distribution's bins, in whole days (upper bound inclusive)."""


def cycles(conn, as_of: dt.datetime, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One row per opportunity won in ``(since, as_of]``: customer, owner, source (of the
    customer's lead), started, won_at, days (fractional), from ("lead" or "opportunity")."""
    h, o = stage_history, opportunities
    lead = (select(h.c.customer_id, func.min(h.c.at).label("started"))
            .where(h.c.entity == "lead", h.c.at <= as_of)
            .group_by(h.c.customer_id)).subquery("cy_lead")
    opened = (select(h.c.record_id, func.min(h.c.at).label("opened"))
              .where(h.c.entity == "opportunity", h.c.at <= as_of)
              .group_by(h.c.record_id)).subquery("cy_opened")
    won_when = [h.c.entity == "opportunity", h.c.to_stage == WON, h.c.at <= as_of]
    won = (select(h.c.record_id, func.min(h.c.at).label("won_at"))
           .where(*won_when).group_by(h.c.record_id)).subquery("cy_won")
    from_lead = and_(o.c.renewal_of.is_(None), lead.c.started.is_not(None),
                     lead.c.started <= opened.c.opened)
    source = func.coalesce(leads.c.source, literal(NO_SOURCE)).label("source")
    query = (select(o.c.id, customers.c.external_id, o.c.owner, source, won.c.won_at,
                    case((from_lead, lead.c.started), else_=opened.c.opened).label("started"),
                    case((from_lead, "lead"), else_="opportunity").label("start"))
             .join(won, won.c.record_id == o.c.id)
             .join(opened, opened.c.record_id == o.c.id)
             .join(customers, customers.c.id == o.c.customer_id)
             .outerjoin(lead, lead.c.customer_id == o.c.customer_id)
             .outerjoin(leads, leads.c.customer_id == o.c.customer_id)
             .order_by(won.c.won_at, o.c.id))
    if since is not None:
        query = query.where(won.c.won_at > since)
    rows = []
    for r in conn.execute(query).mappings():
        days = (r["won_at"] - r["started"]).total_seconds() / 86400
        rows.append({"opportunity": r["id"], "customer": r["external_id"], "owner": r["owner"],
                     "source": r["source"], "started": r["started"], "won_at": r["won_at"],
                     "from": r["start"], "days": round(days, 4)})
    return rows


def summary(rows: list[dict[str, Any]], key: str | None = None) -> list[dict[str, Any]]:
    """Won count, median, quartiles, mean, shortest and longest cycle in days, overall
    (``key`` None) or per value of ``key`` (``"owner"`` or ``"source"``), plus the count per bin of
    :data:`BUCKETS`."""
    groups: dict[Any, list[float]] = {}
    for row in rows:
        groups.setdefault(None if key is None else row[key], []).append(row["days"])
    out = []
    for name in sorted(groups, key=lambda v: (v is None, v or "")):
        days = sorted(groups[name])
        q1, _, q3 = (statistics.quantiles(days, n=4, method="inclusive") if len(days) > 1
                     else (days[0],) * 3)
        entry = {} if key is None else {key: name}
        entry.update(won=len(days), median_days=round(statistics.median(days), 2),
                     p25_days=round(q1, 2), p75_days=round(q3, 2),
                     mean_days=round(statistics.fmean(days), 2),
                     min_days=round(days[0], 2), max_days=round(days[-1], 2))
        entry.update({f"days_{label}": _in_bucket(days, index)
                      for index, (_, label) in enumerate(BUCKETS)})
        out.append(entry)
    return out


def _in_bucket(days: list[float], index: int) -> int:
    upper = BUCKETS[index][0]
    lower = 0 if index == 0 else BUCKETS[index - 1][0]
    return sum(1 for d in days if (index == 0 or d > lower) and (upper is None or d <= upper))


__all__ = ["cycles", "summary", "BUCKETS"]
