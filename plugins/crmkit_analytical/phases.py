"""Lifecycle as relationship phase — establish, develop, mature, decline — in SQL.

At ``as_of``, with config ``phases`` (defaults in brackets) and two windows of
``window_days`` (180): *recent* ``(as_of − W, as_of]`` and *prior*
``(as_of − 2W, as_of − W]``; spend is net (purchases minus refunds) and engagement is the
weighted interaction count of :mod:`engagement` (every kind).  The first rule that holds:

1. ``prospect`` — no purchase up to ``as_of``;
2. ``establish`` — no purchase at or before ``as_of − establish_days`` (180): the first
   purchase is recent, the relationship is being set up;
3. ``decline`` — nothing bought in the recent window, or recent spend fell more than
   ``decline_percent`` (20) below prior spend, or spend did not grow while engagement
   fell more than ``decline_percent``;
4. ``develop`` — recent spend grew more than ``growth_percent`` (20) above prior spend;
5. ``mature`` — otherwise: spend stable within the bands.

Config ``lifecycle.model`` chooses what segments' ``lifecycle`` field means: ``recency``
(the stages of :mod:`lifecycle`, the default) or ``relationship`` (these phases).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, literal, or_, select

from crmkit.plugin import customers as C, interactions as I

from . import engagement, lifecycle, sales
from .results import PhaseRow
from .sql import to_decimal

if TYPE_CHECKING:
    from .settings import Settings

PHASES = ("prospect", "establish", "develop", "mature", "decline")


def trends_query(settings: Settings, as_of: dt.datetime):
    """Per customer with an interaction up to ``as_of``: whether they bought, whether before
    the establish cut-off, and recent/prior spend (units) and engagement."""
    rules = settings.phases
    window = dt.timedelta(days=rules.window_days)
    recent = I.c.occurred_at > as_of - window
    prior = and_(I.c.occurred_at > as_of - 2 * window, I.c.occurred_at <= as_of - window)
    established = as_of - dt.timedelta(days=rules.establish_days)
    spend = case((sales.sales_kinds(settings), sales.net_units(settings)), else_=literal(0))
    points = engagement.weight(settings)
    return (select(I.c.customer_id,
                   func.max(sales.purchase_flag(settings)).label("bought"),
                   func.max(case((and_(sales.is_purchase(settings), I.c.occurred_at <= established),
                                  1), else_=0)).label("early"),
                   func.sum(case((recent, spend), else_=literal(0))).label("recent_units"),
                   func.sum(case((prior, spend), else_=literal(0))).label("prior_units"),
                   func.sum(case((recent, points), else_=literal(0.0))).label("recent_points"),
                   func.sum(case((prior, points), else_=literal(0.0))).label("prior_points"))
            .where(I.c.occurred_at <= as_of).group_by(I.c.customer_id))


def phase_case(settings: Settings, trends):
    """SQL ``CASE`` giving the phase from a row of :func:`trends_query` (NULLs = prospect)."""
    rules = settings.phases
    fall, rise = 100 - rules.decline_percent, 100 + rules.growth_percent
    recent, prior = trends.c.recent_units, trends.c.prior_units
    return case(
        (or_(trends.c.bought.is_(None), trends.c.bought == 0), literal("prospect")),
        (trends.c.early == 0, literal("establish")),
        (or_(recent <= 0, recent * 100 < prior * fall), literal("decline")),
        (and_(recent <= prior, trends.c.recent_points * 100 < trends.c.prior_points * fall),
         literal("decline")),
        (recent * 100 > prior * rise, literal("develop")),
        else_=literal("mature"))


def phases_query(settings: Settings, as_of: dt.datetime):
    """``(customer_id, stage)`` of every customer known at ``as_of`` (as
    :func:`lifecycle.stages_query`, so segments can use either)."""
    trends = trends_query(settings, as_of).subquery("ph_trends")
    return (select(C.c.id.label("customer_id"), phase_case(settings, trends).label("stage"))
            .select_from(C.outerjoin(trends, trends.c.customer_id == C.c.id))
            .where(or_(C.c.created_at <= as_of, trends.c.bought.is_not(None))))


def rows(conn, settings: Settings, as_of: dt.datetime) -> list[PhaseRow]:
    """Every customer's phase with the trends it was decided on, by external id."""
    trends = trends_query(settings, as_of).subquery("ph_rows")
    query = (select(C.c.external_id, phase_case(settings, trends).label("phase"),
                    trends.c.recent_units, trends.c.prior_units, trends.c.recent_points,
                    trends.c.prior_points)
             .select_from(C.outerjoin(trends, trends.c.customer_id == C.c.id))
             .where(C.c.erased_at.is_(None),
                    or_(C.c.created_at <= as_of, trends.c.bought.is_not(None)))
             .order_by(C.c.external_id))
    return [PhaseRow(r.external_id, r.phase, to_decimal(r.recent_units),
                     to_decimal(r.prior_units), round(float(r.recent_points or 0), 4),
                     round(float(r.prior_points or 0), 4)) for r in conn.execute(query)]


def counts(conn, settings: Settings, as_of: dt.datetime) -> dict[str, int]:
    """Customers (not erased) per phase at ``as_of``, every phase listed."""
    tally = Counter(row.phase for row in rows(conn, settings, as_of))
    return {phase: tally.get(phase, 0) for phase in PHASES}


def segment_stages_query(settings: Settings, as_of: dt.datetime):
    """The ``(customer_id, stage)`` query segments' ``lifecycle`` field reads: recency stages
    or relationship phases, as config ``lifecycle.model`` says."""
    if settings.lifecycle.model == "relationship":
        return phases_query(settings, as_of)
    return lifecycle.stages_query(settings, as_of)


__all__ = ["PHASES", "trends_query", "phase_case", "phases_query", "rows", "counts",
           "segment_stages_query"]
