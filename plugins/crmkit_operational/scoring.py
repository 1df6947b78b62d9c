"""Lead scoring with time decay, caps and fit rules, computed in SQL for a set of leads.

score = min(max_score, Σ_rules weight × Σ_{rule's most recent cap matching interactions}
0.5^(age_days / half_life_days) + Σ fit points met), rounded to 2 decimals
(half up).  Interactions after ``as_of`` do not count.  Reaching
``mql_threshold`` promotes a lead at stage ``lead`` to ``mql`` and emits
``lead.qualified``; a score never demotes.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Sequence

from sqlalchemy import (Float, Integer, String, and_, bindparam, case, cast, func, literal, null,
                        or_, select, union_all, update)

from crmkit.db import days_between
from crmkit.tables import customers, interactions
from crmkit.types import UTCDateTime

from .tables import leads

CHUNK = 2000
TWO_PLACES = Decimal("0.01")


def _rules_table(rules: list[dict[str, Any]]):
    """The scoring rules as a small SQL table: idx, kind, channel, direction, weight, cap."""
    rows = []
    for idx, rule in enumerate(rules):
        match = rule["match"]
        rows.append(select(
            literal(idx, Integer).label("idx"),
            *[(literal(match[k], String) if k in match else cast(null(), String)).label(k)
              for k in ("kind", "channel", "direction")],
            literal(float(rule["weight"]), Float).label("weight"),
            literal(rule["cap"], Integer).label("cap")))
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("rules")


def _behaviour(config: dict[str, Any], as_of: dt.datetime, ids_param):
    """Subquery: decayed, capped behaviour points per customer (None when there are no rules).

    One pass over the customers' interactions joined to the rules table; the
    cap is a ``ROW_NUMBER()`` per customer and rule, newest first.
    """
    scoring = config["scoring"]
    if not scoring["rules"]:
        return None
    i = interactions
    r = _rules_table(scoring["rules"])
    moment = literal(as_of, UTCDateTime())
    decay = func.power(literal(0.5, Float), cast(days_between(moment, i.c.occurred_at), Float)
                       / literal(float(scoring["half_life_days"]), Float))
    rank = func.row_number().over(partition_by=(i.c.customer_id, r.c.idx),
                                  order_by=(i.c.occurred_at.desc(), i.c.id.desc()))
    matches = and_(*[or_(r.c[k].is_(None), i.c[k] == r.c[k]) for k in ("kind", "channel", "direction")])
    ranked = (select(i.c.customer_id, (r.c.weight * decay).label("points"), rank.label("rn"),
                     r.c.cap)
              .select_from(i.join(r, matches))
              .where(i.c.customer_id.in_(ids_param), i.c.occurred_at <= as_of).subquery())
    return (select(ranked.c.customer_id, func.sum(ranked.c.points).label("points"))
            .where(ranked.c.rn <= ranked.c.cap).group_by(ranked.c.customer_id).subquery())


def _fit(ctx) -> Any:
    """SQL expression: fit points met by the joined customer row (0 without fit rules)."""
    from .sqlfields import FieldSQL

    fields = FieldSQL(interaction_table=None)
    total = literal(0.0, Float)
    for rule in ctx.config["scoring"]["fit"]:
        condition = {"field": f"customer.attributes.{rule['attribute']}", "op": rule["op"],
                     "value": rule["value"]}
        total = total + case((fields.compile(condition), float(rule["points"])), else_=0.0)
    return total


def round_score(raw: float, max_score: float) -> Decimal:
    """min(max_score, raw) rounded half up to 2 decimals."""
    capped = min(float(max_score), float(raw or 0.0))
    return Decimal(repr(capped)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def compute(ctx, customer_ids: Sequence[int], as_of: dt.datetime) -> dict[int, Decimal]:
    """Scores of the given leads at ``as_of`` (one SQL statement); leads only."""
    if not customer_ids:
        return {}
    ids_param = bindparam("ids", expanding=True)
    behaviour = _behaviour(ctx.config, as_of, ids_param)
    points = _fit(ctx)
    source = leads.join(customers, customers.c.id == leads.c.customer_id)
    if behaviour is not None:
        source = source.outerjoin(behaviour, behaviour.c.customer_id == leads.c.customer_id)
        points = points + func.coalesce(behaviour.c.points, 0.0)
    query = (select(leads.c.customer_id, points.label("score")).select_from(source)
             .where(leads.c.customer_id.in_(ids_param)))
    max_score = ctx.config["scoring"]["max_score"]
    return {cid: round_score(score, max_score)
            for cid, score in ctx.conn.execute(query, {"ids": list(customer_ids)})}


def rescore(ctx, customer_ids: Sequence[int] | None = None,
            as_of: dt.datetime | None = None) -> tuple[int, list[int]]:
    """Recompute and store scores, promote leads that reached the threshold.

    ``customer_ids`` None means every lead.  Returns (leads scored, promoted ids).
    """
    from .funnel import after_lead_moves, promote

    as_of = as_of or ctx.now()
    if customer_ids is None:
        customer_ids = list(ctx.conn.execute(select(leads.c.customer_id)
                                             .order_by(leads.c.customer_id)).scalars())
    scored, promoted = 0, []
    threshold = Decimal(str(ctx.config["scoring"]["mql_threshold"]))
    for start in range(0, len(customer_ids), CHUNK):
        scores = compute(ctx, customer_ids[start:start + CHUNK], as_of)
        if not scores:
            continue
        ctx.conn.execute(update(leads).where(leads.c.customer_id == bindparam("cid"))
                         .values(score=bindparam("s"), scored_at=as_of),
                         [{"cid": cid, "s": float(s)} for cid, s in scores.items()])
        scored += len(scores)
        reached = [cid for cid, s in scores.items() if s >= threshold]
        moved = promote(ctx, reached, "lead", "mql", assign=False)
        for cid in moved:
            ctx.emit("lead.qualified", cid, {"score": str(scores[cid]), "threshold": str(threshold)})
        after_lead_moves(ctx, [(cid, "mql") for cid in moved])
        promoted.extend(moved)
    return scored, promoted


def batch_customers(conn, batch) -> list[int]:
    """Distinct customers of an interaction batch (one statement over the id range)."""
    query = (select(interactions.c.customer_id).distinct()
             .where(interactions.c.id.between(batch.first_id, batch.last_id)))
    return sorted(conn.execute(query).scalars())


def stored_scores(conn, stage: str | None = None, min_score: float | None = None,
                  limit: int | None = 1000) -> list[dict[str, Any]]:
    """Stored lead scores, highest first, with the customer's external id."""
    query = (select(customers.c.external_id.label("customer"), customers.c.name, leads.c.stage,
                    leads.c.score, leads.c.owner, leads.c.scored_at)
             .join(customers, customers.c.id == leads.c.customer_id)
             .order_by(leads.c.score.desc(), customers.c.external_id))
    if stage is not None:
        query = query.where(leads.c.stage == stage)
    if min_score is not None:
        query = query.where(leads.c.score >= min_score)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for r in conn.execute(query).mappings():
        row = dict(r)
        row["score"] = Decimal(repr(row["score"])).quantize(TWO_PLACES)
        rows.append(row)
    return rows
