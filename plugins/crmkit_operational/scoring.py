"""Lead scoring with time decay, caps and fit rules, computed in SQL for a set of leads.

score = min(max_score, Σ_rules weight × Σ_{rule's most recent cap matching interactions}
0.5^(age_days / half_life_days) + Σ fit points met), rounded to 2 decimals
(half up).  Interactions after ``as_of`` do not count.  Reaching
``mql_threshold`` promotes a lead at stage ``lead`` to ``mql`` and emits
``lead.qualified``; a score never demotes.

The capped matches are read from the hits table (:mod:`.hits`), so scoring a
batch reads the hits of the batch's customers, not their whole history; the
same sum over matches computed straight from the interactions is used where
the hits cannot answer (a match after ``as_of``) and for read-only scores.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Sequence, Union

from sqlalchemy import Float, Select, case, cast, func, literal, select, true

from crmkit.db import days_between
from crmkit.tables import customers, interactions
from crmkit.types import UTCDateTime

from . import hits
from .hits import capped_matches
from .rows import driver_value, update_many
from .tables import leads, score_hits

CHUNK = 2000
TWO_PLACES = Decimal("0.01")

Customers = Union[Sequence[int], Select, None]
"""Whose scores: a list of customer ids, a SELECT of customer ids, or None for every lead."""


def _among(column, who: Customers) -> Any:
    """SQL condition: ``column`` is one of ``who`` (always true for None)."""
    return true() if who is None else column.in_(who)


def _behaviour(config: dict[str, Any], as_of: dt.datetime, hits) -> Any:
    """Subquery: per customer, decayed behaviour points of ``hits`` and how many are after ``as_of``.

    ``hits`` has columns ``customer_id``, ``rule`` (position in the rules) and
    ``occurred_at``: each rule's capped most recent matches.
    """
    scoring = config["scoring"]
    weight = case({j: float(rule["weight"]) for j, rule in enumerate(scoring["rules"])},
                  value=hits.c.rule, else_=0.0)
    moment = literal(as_of, UTCDateTime())
    decay = func.power(literal(0.5, Float), cast(days_between(moment, hits.c.occurred_at), Float)
                       / literal(float(scoring["half_life_days"]), Float))
    after = hits.c.occurred_at > moment
    return (select(hits.c.customer_id,
                   func.sum(case((after, 0.0), else_=weight * decay)).label("points"),
                   func.sum(case((after, 1), else_=0)).label("later"))
            .group_by(hits.c.customer_id).subquery())


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


def _scores(ctx, who: Customers, as_of: dt.datetime, hits) -> list[tuple[int, float, int]]:
    """``(customer_id, unrounded score, hits after as_of)`` of the leads among ``who``."""
    points = _fit(ctx)
    later = literal(0)
    source = leads.join(customers, customers.c.id == leads.c.customer_id)
    if hits is not None:
        behaviour = _behaviour(ctx.config, as_of, hits)
        source = source.outerjoin(behaviour, behaviour.c.customer_id == leads.c.customer_id)
        points = points + func.coalesce(behaviour.c.points, 0.0)
        later = func.coalesce(behaviour.c.later, 0)
    query = (select(leads.c.customer_id, points, later).select_from(source)
             .where(_among(leads.c.customer_id, who)))
    return [tuple(r) for r in ctx.conn.execute(query)]


def compute(ctx, who: Customers, as_of: dt.datetime, stored: bool = True) -> dict[int, Decimal]:
    """Scores of the leads among ``who`` at ``as_of``; leads only.

    ``stored`` sums the hits table (:mod:`.hits`, which the caller brought up
    to date); customers with a hit after ``as_of`` (their capped matches at
    ``as_of`` may be older ones) are computed from their interactions, as is
    everybody without ``stored``.
    """
    if _no_one(who):
        return {}
    rules = ctx.config["scoring"]["rules"]
    raw: dict[int, float] = {}
    if stored and rules:
        hits = select(score_hits).where(_among(score_hits.c.customer_id, who)).subquery()
        rows = _scores(ctx, who, as_of, hits)
        raw.update((cid, score) for cid, score, _ in rows)
        who = (select(score_hits.c.customer_id).distinct()
               .where(_among(score_hits.c.customer_id, who), score_hits.c.occurred_at > as_of)
               if any(later for _, _, later in rows) else [])
    if not _no_one(who):
        live = (capped_matches(rules, _among(interactions.c.customer_id, who),
                               interactions.c.occurred_at <= as_of).subquery() if rules else None)
        raw.update((cid, score) for cid, score, _ in _scores(ctx, who, as_of, live))
    max_score = ctx.config["scoring"]["max_score"]
    return {cid: round_score(score, max_score) for cid, score in raw.items()}


def _no_one(who: Customers) -> bool:
    return who is not None and not isinstance(who, Select) and not who


def rescore(ctx, who: Customers = None, as_of: dt.datetime | None = None) -> tuple[int, list[int]]:
    """Recompute and store the scores of the leads among ``who``, promote those that reached the threshold.

    ``who`` None means every lead, after rebuilding the hits from every
    interaction; otherwise the hits are brought up to date first.  Returns
    (leads scored, promoted ids).
    """
    from .funnel import after_lead_moves, promote

    as_of = as_of or ctx.now()
    if who is None:
        hits.rebuild(ctx)
    else:
        hits.sync(ctx)
    scores: dict[int, Decimal] = {}
    if isinstance(who, Select) or who is None:
        scores = compute(ctx, who, as_of)
    else:
        for start in range(0, len(who), CHUNK):
            scores.update(compute(ctx, who[start:start + CHUNK], as_of))
    if not scores:
        return 0, []
    _store(ctx.conn, scores, as_of)
    threshold = Decimal(str(ctx.config["scoring"]["mql_threshold"]))
    reached = sorted(cid for cid, s in scores.items() if s >= threshold)
    promoted = []
    for start in range(0, len(reached), CHUNK):
        moved = promote(ctx, reached[start:start + CHUNK], "lead", "mql", assign=False)
        for cid in moved:
            ctx.emit("lead.qualified", cid, {"score": str(scores[cid]), "threshold": str(threshold)})
        after_lead_moves(ctx, [(cid, "mql") for cid in moved])
        promoted.extend(moved)
    return len(scores), promoted


def _store(conn, scores: dict[int, Decimal], as_of: dt.datetime) -> None:
    """Write the scores (in key order) with one driver-level executemany."""
    scored_at = driver_value(conn, leads.c.scored_at, as_of)
    update_many(conn, leads, "customer_id", ("score", "scored_at"),
                [(float(s), scored_at, cid) for cid, s in sorted(scores.items())])


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
