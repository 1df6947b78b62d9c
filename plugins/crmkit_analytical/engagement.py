"""Engagement across channels: every interaction counts, weighted by its kind.

A customer's engagement at ``as_of`` is Σ weight(kind) over their interactions in the
last ``engagement.days`` days, ``(as_of − days, as_of]``; the weight of a kind comes from
``engagement.weights`` (``{"purchase": 3, "email.open": 0.5}``), else
``engagement.default_weight`` (1).  Everything is summed in SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Float, case, cast, func, literal, select

from crmkit.plugin import customers as C, interactions as I

from .results import EngagementKind, EngagementScore

if TYPE_CHECKING:
    from .settings import Settings


def weight(settings: Settings):
    """SQL: the weight of the interaction's kind."""
    rules = settings.engagement
    default = literal(float(rules.default_weight), Float)
    if not rules.weights:
        return default
    return case({kind: literal(float(w), Float) for kind, w in rules.weights.items()},
                value=I.c.kind, else_=default)


def window(settings: Settings, as_of: dt.datetime):
    """SQL: the interaction is in the engagement window ending at ``as_of``."""
    start = as_of - dt.timedelta(days=settings.engagement.days)
    return (I.c.occurred_at > start) & (I.c.occurred_at <= as_of)


def scores_query(settings: Settings, as_of: dt.datetime):
    """``(customer_id, interactions, score)`` of every customer engaged in the window."""
    return (select(I.c.customer_id, func.count().label("interactions"),
                   cast(func.sum(weight(settings)), Float).label("score"))
            .where(window(settings, as_of)).group_by(I.c.customer_id))


def scores(conn, settings: Settings, as_of: dt.datetime) -> list[EngagementScore]:
    """Every engaged customer's score, highest first (external id on ties)."""
    found = scores_query(settings, as_of).subquery("eng_scores")
    query = (select(C.c.external_id, found.c.interactions, found.c.score)
             .join(found, found.c.customer_id == C.c.id)
             .order_by(found.c.score.desc(), C.c.external_id))
    return [EngagementScore(r.external_id, int(r.interactions), round(float(r.score), 4))
            for r in conn.execute(query)]


def by_kind(conn, settings: Settings, as_of: dt.datetime) -> list[EngagementKind]:
    """Interactions and points per kind in the window, most points first."""
    points = cast(func.sum(weight(settings)), Float)
    query = (select(I.c.kind, func.count().label("interactions"), points.label("points"))
             .where(window(settings, as_of)).group_by(I.c.kind)
             .order_by(points.desc(), I.c.kind))
    return [EngagementKind(r.kind, int(r.interactions), round(float(r.points), 4))
            for r in conn.execute(query)]


def average(conn, settings: Settings, as_of: dt.datetime) -> float | None:
    """The mean score over every customer (not erased) created by ``as_of``, the unengaged
    counting 0 (the SMART KPI ``average_engagement``); None without customers."""
    found = scores_query(settings, as_of).subquery("eng_average")
    row = conn.execute(select(func.count(), func.sum(found.c.score))
                       .select_from(C.outerjoin(found, found.c.customer_id == C.c.id))
                       .where(C.c.created_at <= as_of, C.c.erased_at.is_(None))).one()
    if not row[0]:
        return None
    return round(float(row[1] or 0) / row[0], 4)


__all__ = ["scores", "scores_query", "by_kind", "average", "weight", "window"]
