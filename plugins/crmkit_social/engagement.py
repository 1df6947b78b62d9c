"""Engagement per customer, handle and calendar period: likes + 2 × comments + 3 × shares (default weights).

The sum is computed in SQL; periods are calendar periods in UTC (weeks start
on Monday) and are bucketed with a CASE over their boundaries, so the same
statement runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import case, func, literal, select

from crmkit.plugin import UTC, ValidationError, customers

from .settings import EngagementWeights
from .tables import mentions

UNITS = ("day", "week", "month", "quarter", "year")
MAX_PERIODS = 400


@attrs.frozen
class Engagement:
    """One customer's engagement through one handle in one period."""

    customer_id: int
    external_id: str
    platform: str
    handle: str
    period_start: dt.datetime
    mentions: int
    likes: int
    comments: int
    shares: int
    engagement: int


def period_start(moment: dt.datetime, unit: str) -> dt.datetime:
    """Start (UTC midnight) of the calendar period containing ``moment``."""
    day = moment.astimezone(UTC).date()
    if unit == "week":
        day -= dt.timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    elif unit == "quarter":
        day = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    elif unit == "year":
        day = day.replace(month=1, day=1)
    elif unit != "day":
        raise ValidationError(f"period: {unit!r} is not one of {', '.join(UNITS)}")
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def previous(start: dt.datetime, unit: str) -> dt.datetime:
    """Start of the period before the one starting at ``start``."""
    if unit == "day":
        return start - dt.timedelta(days=1)
    if unit == "week":
        return start - dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    index = start.year * 12 + start.month - 1 - months
    return start.replace(year=index // 12, month=index % 12 + 1)


def period_starts(as_of: dt.datetime, unit: str, count: int) -> list[dt.datetime]:
    """The starts of the ``count`` periods ending with the one containing ``as_of``, oldest first."""
    if not 1 <= count <= MAX_PERIODS:
        raise ValidationError(f"periods: {count} is not between 1 and {MAX_PERIODS}")
    starts = [period_start(as_of, unit)]
    while len(starts) < count:
        starts.append(previous(starts[-1], unit))
    return starts[::-1]


def engagement(conn, weights: EngagementWeights, as_of: dt.datetime, unit: str, count: int,
               customer_id: int | None = None) -> list[Engagement]:
    """Engagement of known customers' mentions posted in the periods up to ``as_of`` (inclusive)."""
    starts = period_starts(as_of, unit, count)
    m = mentions.c
    bucket = case(*[(m.posted_at >= s, literal(n)) for n, s in reversed(list(enumerate(starts)))],
                  else_=None)
    inner = (select(m.customer_id, m.platform, m.handle, m.likes, m.comments, m.shares,
                    bucket.label("bucket"))
             .where(m.customer_id.is_not(None), m.posted_at >= starts[0], m.posted_at <= as_of))
    if customer_id is not None:
        inner = inner.where(m.customer_id == customer_id)
    inner = inner.subquery("dated")
    d = inner.c
    score = (func.sum(d.likes) * weights.likes + func.sum(d.comments) * weights.comments
             + func.sum(d.shares) * weights.shares).label("engagement")
    query = (select(d.customer_id, customers.c.external_id, d.platform, d.handle, d.bucket,
                    func.count().label("mentions"), func.sum(d.likes).label("likes"),
                    func.sum(d.comments).label("comments"), func.sum(d.shares).label("shares"),
                    score)
             .join(customers, customers.c.id == d.customer_id)
             .group_by(d.customer_id, customers.c.external_id, d.platform, d.handle, d.bucket)
             .order_by(d.bucket, score.desc(), d.customer_id, d.platform, d.handle))
    return [Engagement(r.customer_id, r.external_id, r.platform, r.handle, starts[r.bucket],
                       r.mentions, int(r.likes), int(r.comments), int(r.shares),
                       int(r.engagement))
            for r in conn.execute(query)]
