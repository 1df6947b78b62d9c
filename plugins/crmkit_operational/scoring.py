"""Lead scoring with time decay, caps and fit rules, for a set of leads at once.

score = min(max_score, Σ_rules weight × Σ_{rule's most recent cap matching interactions}
0.5^(age_days / half_life_days) + Σ fit points met), rounded to 2 decimals
(half up).  Interactions after ``as_of`` do not count.  Reaching
``mql_threshold`` promotes a lead at stage ``lead`` to ``mql`` and emits
``lead.qualified``; a score never demotes.

The capped matches are the leads' stored hits (:mod:`.hits`) with the
batch's own matches added, so scoring a batch reads one row per lead, not its
history; they are computed from the interactions where the hits are not known
or cannot answer (a match after ``as_of``) and for read-only scores.  The fit
points are computed in SQL, the decayed sums in numpy.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, Sequence, Union

import numpy as np
from sqlalchemy import Float, Select, case, literal, or_, select, true

from crmkit.plugin import customers, driver_value, update_rows

from . import hits
from .hits import Hits, from_interactions
from .settings import Scoring, settings_of
from .tables import leads

CHUNK = 2000
TWO_PLACES = Decimal("0.01")
MICROS_PER_DAY = 86_400e6

Customers = Union[Sequence[int], Select, None]
"""Whose scores: a list of customer ids, a SELECT of customer ids, or None for every lead."""


def _among(column, who: Customers) -> Any:
    """SQL condition: ``column`` is one of ``who`` (always true for None)."""
    return true() if who is None else column.in_(who)


def _fit(ctx) -> Any:
    """SQL expression: fit points met by the joined customer row (0 without fit rules)."""
    from .sqlfields import FieldSQL

    fields = FieldSQL(interaction_table=None)
    total = literal(0.0, Float)
    for rule in settings_of(ctx).scoring.fit:
        total = total + case((fields.compile(rule.condition), rule.points), else_=0.0)
    return total


def _leads(ctx, who: Customers, lock: bool = False) -> Sequence[tuple[int, float, bytes | None]]:
    """``(customer_id, fit points, stored hits)`` of the leads among ``who``, by customer id.

    ``lock`` locks the lead rows (PostgreSQL) so a concurrent batch adds its
    hits after this one's, not over them.
    """
    source = leads
    if settings_of(ctx).scoring.fit:
        source = leads.join(customers, customers.c.id == leads.c.customer_id)
    query = (select(leads.c.customer_id, _fit(ctx), leads.c.hits).select_from(source)
             .where(_among(leads.c.customer_id, who)).order_by(leads.c.customer_id))
    if lock:
        query = query.with_for_update(of=leads)
    return ctx.conn.execute(query).all()


def decayed_points(scoring: Scoring, matches: Hits, as_of: dt.datetime
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The customers of ``matches`` (sorted), each one's Σ weight × 0.5^(age_days / half_life),
    and whether it has a match after ``as_of`` (which counts nothing)."""
    if not len(matches.at):
        return np.empty(0, np.int64), np.empty(0), np.empty(0, bool)
    weights = np.array([rule.weight for rule in scoring.rules])
    age_days = (hits.micros(as_of) - matches.at) / MICROS_PER_DAY
    later = age_days < 0
    value = np.where(later, 0.0, weights[matches.rule]
                     * 0.5 ** (np.maximum(age_days, 0.0) / scoring.half_life_days))
    ids, index = np.unique(matches.customer, return_inverse=True)
    points = np.bincount(index, weights=value, minlength=len(ids))
    late = np.bincount(index, weights=later, minlength=len(ids)) > 0
    return ids, points, late


def _points_of(customer_ids: np.ndarray, ids: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (of the sorted ``ids``) for each of ``customer_ids``; 0 for those without."""
    if not len(ids):
        return np.zeros(len(customer_ids))
    at = np.minimum(np.searchsorted(ids, customer_ids), len(ids) - 1)
    return np.where(ids[at] == customer_ids, points[at], 0.0)


def round_score(raw: float, max_score: float) -> Decimal:
    """min(max_score, raw) rounded half up to 2 decimals."""
    capped = min(float(max_score), float(raw or 0.0))
    return Decimal(repr(capped)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def score_cents(raw: np.ndarray, max_score: float) -> np.ndarray:
    """:func:`round_score` of each of ``raw``, in whole cents (int64).

    Vectorised: x × 100 rounded half away from zero.  Where that product is
    within float error of a half cent the float may sit on the other side of
    the decimal tie that ``round_score`` sees, so those few go through it.
    """
    capped = np.minimum(float(max_score), np.asarray(raw, float))
    hundredfold = np.abs(capped) * 100.0
    cents = np.copysign(np.floor(hundredfold + 0.5), capped)
    fraction = hundredfold - np.floor(hundredfold)
    for n in np.flatnonzero(np.abs(fraction - 0.5) < 1e-6 + hundredfold * 1e-12).tolist():
        cents[n] = float(round_score(capped[n], max_score) * 100)
    return cents.astype(np.int64)


def from_cents(cents: int) -> Decimal:
    """A score in cents as the 2-decimal ``Decimal`` the API shows."""
    return Decimal(int(cents)).scaleb(-2)


def compute(ctx, who: Customers, as_of: dt.datetime) -> dict[int, Decimal]:
    """Scores of the leads among ``who`` at ``as_of``, from their interactions (nothing stored)."""
    if _no_one(who):
        return {}
    rows = _leads(ctx, who)
    scoring = settings_of(ctx).scoring
    customer_ids = np.array([cid for cid, _, _ in rows], np.int64)
    matches = from_interactions(ctx.conn, scoring.rules, customer_ids.tolist(), until=as_of)
    ids, points, _ = decayed_points(scoring, matches, as_of)
    fit = np.array([fit for _, fit, _ in rows], float)
    cents = score_cents(fit + _points_of(customer_ids, ids, points), scoring.max_score)
    return {cid: from_cents(c) for cid, c in zip(customer_ids.tolist(), cents.tolist())}


def _no_one(who: Customers) -> bool:
    return who is not None and not isinstance(who, Select) and not who


def rescore(ctx, who: Customers = None, as_of: dt.datetime | None = None,
            batch=None) -> tuple[int, list[int]]:
    """Recompute and store the scores of the leads among ``who``, promote those that reached the threshold.

    ``who`` None means every lead, with every hit recomputed from the
    interactions.  ``batch`` is the interactions batch being reacted to: its
    rows' matches are added to the stored hits.  Leads whose hits had to be
    forgotten (:func:`hits.sync`) are scored too.  Returns (leads scored,
    promoted ids).
    """
    from .funnel import after_lead_moves, promote

    as_of = as_of or ctx.now()
    if who is None:
        hits.forget(ctx.conn)
    forgot = hits.sync(ctx)
    if forgot and who is not None:
        who = select(leads.c.customer_id).where(or_(leads.c.hits.is_(None),
                                                    leads.c.customer_id.in_(who)))
    if isinstance(who, Select) or who is None:
        parts = [_rescore_leads(ctx, who, as_of, batch)]
    else:
        parts = [_rescore_leads(ctx, who[start:start + CHUNK], as_of, batch)
                 for start in range(0, len(who), CHUNK)]
    if not parts:
        return 0, []
    customer_ids = np.concatenate([ids for ids, _ in parts])
    cents = np.concatenate([c for _, c in parts])
    threshold = settings_of(ctx).scoring.mql_threshold
    qualified = cents >= int((threshold * 100).to_integral_value(ROUND_CEILING))
    score_of = dict(zip(customer_ids[qualified].tolist(), cents[qualified].tolist()))
    reached = sorted(score_of)
    promoted = []
    for start in range(0, len(reached), CHUNK):
        moved = promote(ctx, reached[start:start + CHUNK], "lead", "mql", assign=False)
        for cid in moved:
            ctx.emit("lead.qualified", cid, {"score": str(from_cents(score_of[cid])),
                                              "threshold": str(threshold)})
        after_lead_moves(ctx, [(cid, "mql") for cid in moved])
        promoted.extend(moved)
    return len(customer_ids), promoted


def _rescore_leads(ctx, who: Customers, as_of: dt.datetime, batch) -> tuple[np.ndarray, np.ndarray]:
    """Bring the hits of the leads among ``who`` up to date, store them with the scores;
    return the leads' customer ids and scores in cents."""
    conn, scoring = ctx.conn, settings_of(ctx).scoring
    rows = _leads(ctx, who, lock=True)
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rules = scoring.rules
    customer_ids = np.array([cid for cid, _, _ in rows], np.int64)
    fit = np.array([fit for _, fit, _ in rows], float)
    known = [(cid, blob) for cid, _, blob in rows if blob is not None]
    stored = hits.unpack(known)
    parts = [stored, from_interactions(conn, rules, [cid for cid, _, blob in rows if blob is None])]
    if batch is not None:
        added = hits.from_rows(rules, batch.rows, {cid for cid, _ in known})
        parts.append(added.without(stored.interaction))
    matches = Hits.concat(parts).capped([rule.cap for rule in rules])
    ids, points, late = decayed_points(scoring, matches, as_of)
    if late.any():  # their capped matches at as_of may be older ones than the stored hits keep
        later = ids[late]
        live = decayed_points(scoring, from_interactions(conn, rules, later.tolist(), until=as_of), as_of)
        points[late] = _points_of(later, live[0], live[1])
    cents = score_cents(fit + _points_of(customer_ids, ids, points), scoring.max_score)
    packed = matches.packed(customer_ids.tolist())
    scored_at = driver_value(conn, leads.c.scored_at, as_of)
    update_rows(conn, leads, "customer_id", ("score", "scored_at", "hits"),
                [(score, scored_at, packed[cid], cid) for cid, score
                 in zip(customer_ids.tolist(), (cents / 100).tolist())])
    return customer_ids, cents


def stored_scores(conn, stage: str | None = None, min_score: float | None = None,
                  limit: int | None = 1000, owner: str | None = None) -> list[dict[str, Any]]:
    """Stored lead scores, highest first, with the customer's external id."""
    query = (select(customers.c.external_id.label("customer"), customers.c.name, leads.c.stage,
                    leads.c.score, leads.c.owner, leads.c.scored_at)
             .join(customers, customers.c.id == leads.c.customer_id)
             .order_by(leads.c.score.desc(), customers.c.external_id))
    if stage is not None:
        query = query.where(leads.c.stage == stage)
    if min_score is not None:
        query = query.where(leads.c.score >= min_score)
    if owner is not None:
        query = query.where(leads.c.owner == owner)
    if limit is not None:
        query = query.limit(limit)
    rows = []
    for r in conn.execute(query).mappings():
        row = dict(r)
        row["score"] = Decimal(repr(row["score"])).quantize(TWO_PLACES)
        rows.append(row)
    return rows
