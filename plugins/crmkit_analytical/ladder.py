"""The loyalty ladder (Christopher, Payne & Ballantyne): prospect → customer → … → partner.

Facts per customer, from SQL: ``purchases`` (count up to ``as_of``),
``best_nps`` (highest NPS answer in a survey), ``referrals`` (stored
``referral.converted`` events naming the customer as referrer — from the
social plugin, 0 without it) plus the customer fields (``tags``,
``attributes.KEY``, ``type``…).  Config ``ladder`` lists the rungs above
prospect, lowest first, each with a condition; a customer stands on the
highest rung whose condition holds, else on ``prospect``.  Defaults: customer
≥ 1 purchase; client ≥ 3; supporter = client with an NPS answer of 7+;
advocate = promoter (NPS 9+) or has referred someone; partner = tagged
``partner``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING

from sqlalchemy import case, func, literal, or_, select

from crmkit.plugin import (
    CUSTOMER_FIELDS, condition_to_sql as to_sql, customers as C, events as E, interactions as I,
)

from . import sales
from .results import LadderPosition
from .sql import field_columns, json_number

if TYPE_CHECKING:
    from .settings import Settings

FACTS = ("purchases", "best_nps", "referrals")
FIELDS = (*FACTS, *CUSTOMER_FIELDS)


def _query(settings: Settings, as_of: dt.datetime):
    bought = (select(I.c.customer_id, func.count().label("n"))
              .where(sales.is_purchase(settings), sales.within(as_of))
              .group_by(I.c.customer_id)).subquery("ld_bought")
    nps = json_number(I.c.payload, "nps")
    rated = (select(I.c.customer_id, func.max(case(((nps >= 0) & (nps <= 10), nps))).label("best"))
             .where(I.c.kind.in_(settings.survey_kinds), sales.within(as_of))
             .group_by(I.c.customer_id)).subquery("ld_rated")
    referred = (select(E.c.customer_id, func.count().label("n"))
                .where(E.c.type == "referral.converted", E.c.occurred_at <= as_of)
                .group_by(E.c.customer_id)).subquery("ld_referred")
    facts = {"purchases": func.coalesce(bought.c.n, 0), "best_nps": rated.c.best,
             "referrals": func.coalesce(referred.c.n, 0)}
    column_for = field_columns(facts, "ladder", FIELDS)
    rungs = list(reversed(settings.ladder))
    rung = (case(*[(to_sql(r.condition, column_for), literal(r.name)) for r in rungs],
                 else_=literal("prospect")) if rungs else literal("prospect"))
    return (select(C.c.id, C.c.external_id, rung.label("rung"), facts["purchases"].label("purchases"),
                   facts["best_nps"].label("best_nps"), facts["referrals"].label("referrals"))
            .select_from(C.outerjoin(bought, bought.c.customer_id == C.c.id)
                         .outerjoin(rated, rated.c.customer_id == C.c.id)
                         .outerjoin(referred, referred.c.customer_id == C.c.id))
            .where(or_(C.c.created_at <= as_of, bought.c.n.is_not(None))))


def positions(conn, settings: Settings, as_of: dt.datetime) -> list[LadderPosition]:
    """Every customer's rung, by customer id."""
    rows = conn.execute(_query(settings, as_of).order_by(C.c.id))
    return [LadderPosition(r.id, r.external_id, r.rung, int(r.purchases),
                           None if r.best_nps is None else float(r.best_nps), int(r.referrals))
            for r in rows]


def counts(conn, settings: Settings, as_of: dt.datetime) -> dict[str, int]:
    """Customers per rung, from prospect up (zeros included)."""
    sub = _query(settings, as_of).subquery("ld_all")
    found = Counter(dict(conn.execute(select(sub.c.rung, func.count()).group_by(sub.c.rung)).all()))
    return {name: int(found.get(name, 0)) for name in ["prospect"] + [r.name for r in settings.ladder]}
