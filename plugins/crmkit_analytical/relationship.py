"""Relationship quality: trust, satisfaction and commitment per customer, and one index.

Each component is scored 0–100 from survey items and a behavioural signal over the last
``relationship_quality.window_days`` (365) days before ``as_of``:

* survey part: the mean of the customer's latest answers to the component's items (config
  ``relationship_quality.trust`` / ``satisfaction`` / ``commitment``, lists of survey item
  keys, each on its scale, see :mod:`surveys`);
* behavioural part — trust: engagement kept up (an interaction in each half of the window:
  100, in one half: 50); satisfaction: no complaint (``complaint_kinds``) in the window: 100,
  else 0; commitment: repeat purchasing (purchases on 2 or more days: 100, on 1 day: 50);
* component = (1 − w) × survey + w × behaviour with w = ``behaviour_weight`` (0.3), or the
  behavioural part alone when the customer answered none of its items.

The index is the mean of the three components.  Customers with an interaction in the
window are scored; every sum runs in SQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, case, cast, func, literal, select

from crmkit.plugin import customers as C, interactions as I

from . import sales, surveys
from .results import RelationshipQuality
from .sql import day_key

if TYPE_CHECKING:
    from .settings import Settings

COMPONENTS = ("trust", "satisfaction", "commitment")


def behaviour_query(settings: Settings, as_of: dt.datetime):
    """``(customer_id, trust, satisfaction, commitment)`` behavioural parts (0–100) of every
    customer with an interaction in the window."""
    days = settings.relationship_quality.window_days
    since, middle = as_of - dt.timedelta(days=days), as_of - dt.timedelta(days=days / 2)
    early = func.max(case((I.c.occurred_at <= middle, 1), else_=0))
    late = func.max(case((I.c.occurred_at > middle, 1), else_=0))
    complaints = func.sum(case((I.c.kind.in_(settings.complaint_kinds), 1), else_=0))
    buying_days = func.count(func.distinct(case((sales.is_purchase(settings),
                                                 day_key(I.c.occurred_at)))))
    return (select(I.c.customer_id,
                   cast((early + late) * 50, Float).label("trust"),
                   cast(case((complaints > 0, 0), else_=100), Float).label("satisfaction"),
                   cast(case((buying_days >= 2, 100), (buying_days == 1, 50), else_=0),
                        Float).label("commitment"))
            .where(I.c.occurred_at > since, I.c.occurred_at <= as_of)
            .group_by(I.c.customer_id))


def survey_query(settings: Settings, as_of: dt.datetime, component: str):
    """``(customer_id, score)``: the mean of each customer's latest answers to the
    component's items, or None when the component has no items."""
    items = settings.relationship_quality.items(component)
    if not items:
        return None
    latest = surveys.latest_scores(settings, items, as_of,
                                   settings.relationship_quality.window_days).subquery()
    return (select(latest.c.customer_id, func.avg(latest.c.score).label("score"))
            .group_by(latest.c.customer_id))


def scores(conn, settings: Settings, as_of: dt.datetime) -> list[RelationshipQuality]:
    """Every scored customer's components and index, by external id."""
    weight = settings.relationship_quality.behaviour_weight
    behaviour = behaviour_query(settings, as_of).subquery("rq_behaviour")
    source = C.join(behaviour, behaviour.c.customer_id == C.c.id)
    columns, answered = [], []
    for component in COMPONENTS:
        part = behaviour.c[component]
        query = survey_query(settings, as_of, component)
        if query is None:
            columns.append(part.label(component))
            answered.append(literal(False).label(f"{component}_surveyed"))
            continue
        survey = query.subquery(f"rq_{component}")
        source = source.outerjoin(survey, survey.c.customer_id == C.c.id)
        blended = case((survey.c.score.is_(None), part),
                       else_=(1 - weight) * survey.c.score + weight * part)
        columns.append(cast(blended, Float).label(component))
        answered.append(survey.c.score.is_not(None).label(f"{component}_surveyed"))
    query = (select(C.c.external_id, *columns, *answered).select_from(source)
             .where(C.c.erased_at.is_(None)).order_by(C.c.external_id))
    out = []
    for row in conn.execute(query).mappings():
        parts = [round(float(row[c]), 2) for c in COMPONENTS]
        out.append(RelationshipQuality(
            row["external_id"], *parts, round(sum(parts) / len(parts), 2),
            tuple(c for c in COMPONENTS if row[f"{c}_surveyed"])))
    return out


def summary(rows: list[RelationshipQuality]) -> dict[str, Any]:
    """Customers scored, and the mean of each component and of the index (exact over the
    two-decimal figures shown, rounded half up: 75.275 is 75.28)."""
    if not rows:
        return {"customers": 0, **{c: None for c in (*COMPONENTS, "index")}}
    return {"customers": len(rows),
            **{c: _mean([getattr(r, c) for r in rows]) for c in (*COMPONENTS, "index")}}


def _mean(figures: list[float]) -> float:
    total = sum((Decimal(repr(f)) for f in figures), Decimal(0))
    return float((total / len(figures)).quantize(Decimal("0.01"), ROUND_HALF_UP))


__all__ = ["COMPONENTS", "scores", "summary", "behaviour_query", "survey_query"]
