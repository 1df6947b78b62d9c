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

from sqlalchemy import Float, and_, bindparam, case, cast, func, literal, or_, select, update

from crmkit.db import days_between
from crmkit.tables import customers, interactions
from crmkit.types import UTCDateTime

from .tables import leads

CHUNK = 2000
TWO_PLACES = Decimal("0.01")


def _behaviour(config: dict[str, Any], as_of: dt.datetime, ids_param):
    """Subquery: decayed, capped behaviour points per customer (None when there are no rules).

    One pass over the customers' interactions that match any rule, no join:
    per rule, a running count of its matches per customer, newest first
    (``SUM(CASE …) OVER``), says whether an interaction is within the rule's
    cap; the decay is computed once per interaction.
    """
    scoring = config["scoring"]
    rules = scoring["rules"]
    if not rules:
        return None
    i = interactions
    newest_first = {"partition_by": i.c.customer_id, "order_by": (i.c.occurred_at.desc(), i.c.id.desc()),
                    "rows": (None, 0)}
    matches = [and_(*[i.c[k] == rule["match"][k] for k in ("kind", "channel", "direction")
                      if k in rule["match"]]) for rule in rules]
    columns = []
    for j, match in enumerate(matches):
        hit = case((match, 1), else_=0)
        columns += [hit.label(f"m{j}"), func.sum(hit).over(**newest_first).label(f"n{j}")]
    ranked = (select(i.c.customer_id, i.c.occurred_at, *columns)
              .where(i.c.customer_id.in_(ids_param), i.c.occurred_at <= as_of, or_(*matches))
              .subquery())
    weight = literal(0.0, Float)
    for j, rule in enumerate(rules):
        counted = and_(ranked.c[f"m{j}"] == 1, ranked.c[f"n{j}"] <= rule["cap"])
        weight = weight + case((counted, float(rule["weight"])), else_=0.0)
    moment = literal(as_of, UTCDateTime())
    decay = func.power(literal(0.5, Float), cast(days_between(moment, ranked.c.occurred_at), Float)
                       / literal(float(scoring["half_life_days"]), Float))
    return (select(ranked.c.customer_id, func.sum(weight * decay).label("points"))
            .group_by(ranked.c.customer_id).subquery())


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
