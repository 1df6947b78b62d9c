"""Scoring hits: per (customer, rule) the ``cap`` most recent interactions matching the rule.

A score only ever reads a rule's ``cap`` most recent matches, so
``operational_score_hits`` keeps exactly those, and scoring a batch sums the
hits of the batch's customers instead of reading their whole history.  The
table is kept in step set-based by :func:`sync`: the matching interactions of
the new id range are inserted (one ``INSERT … SELECT``) and hits beyond a
rule's cap are deleted for the customers of that range (one ``DELETE``).

``operational_score_coverage`` records the interaction id ranges the hits
cover, with a fingerprint of the rules' ``match`` and ``cap`` (weights,
half-life, fit rules and ``max_score`` apply when summing, so changing them
needs no rebuild).  The hits are rebuilt from every interaction when that
fingerprint differs from the configuration's and by ``rescore``.  A sync
covers every id above the highest covered one, so interactions recorded while
the plugin was disabled are caught up by the next batch.  Hits are not
personal data (ids, rule positions, dates): erasure keeps them, a merge moves
them (:func:`merge`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, tuple_, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from crmkit.tables import interactions

from .tables import score_coverage, score_hits

MATCH_KEYS = ("kind", "channel", "direction")


def rule_matches(rules: Sequence[dict[str, Any]]) -> list[Any]:
    """SQL condition per rule: the interaction matches the rule's ``match``."""
    i = interactions
    return [and_(*[i.c[k] == rule["match"][k] for k in MATCH_KEYS if k in rule["match"]])
            for rule in rules]


def fingerprint(rules: Sequence[dict[str, Any]]) -> str:
    """What the hits depend on: each rule's match and cap, in order."""
    text = json.dumps([[rule["match"], rule["cap"]] for rule in rules], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def capped_matches(rules: Sequence[dict[str, Any]], *where: Any):
    """SELECT ``(customer_id, rule, occurred_at, interaction_id)``: each customer's ``cap`` most
    recent matches per rule among the interactions satisfying ``where``.

    One pass over the interactions: per rule a running count of its matches per
    customer, newest first (``SUM(CASE …) OVER``), says whether an interaction
    is within the rule's cap; the rows are then split per rule.
    """
    i = interactions
    matches = rule_matches(rules)
    newest_first = {"partition_by": i.c.customer_id, "order_by": (i.c.occurred_at.desc(), i.c.id.desc()),
                    "rows": (None, 0)}
    columns = []
    for j, match in enumerate(matches):
        hit = case((match, 1), else_=0)
        columns += [hit.label(f"m{j}"), func.sum(hit).over(**newest_first).label(f"n{j}")]
    ranked = (select(i.c.customer_id, i.c.occurred_at, i.c.id, *columns)
              .where(or_(*matches), *where).cte("ranked"))
    return union_all(*[
        select(ranked.c.customer_id, literal(j).label("rule"), ranked.c.occurred_at,
               ranked.c.id.label("interaction_id"))
        .where(ranked.c[f"m{j}"] == 1, ranked.c[f"n{j}"] <= rule["cap"])
        for j, rule in enumerate(rules)])


def sync(ctx, first_id: int | None = None) -> tuple[int, int] | None:
    """Bring the hits up to the newest interaction; return the id range added (None: nothing).

    ``first_id`` is the first id of the batch being reacted to: its range is
    added even when a concurrent batch with higher ids committed first.
    Rebuilds everything when the rules' fingerprint changed.
    """
    rules = ctx.config["scoring"]["rules"]
    if not rules:
        return None
    conn = ctx.conn
    mark = fingerprint(rules)
    covered = dict(conn.execute(select(score_coverage.c.fingerprint, func.max(score_coverage.c.last_id))
                                .group_by(score_coverage.c.fingerprint)).all())
    if set(covered) != {mark}:
        return rebuild(ctx)
    through = covered[mark]
    last = conn.execute(select(func.max(interactions.c.id))).scalar() or 0
    first = through + 1 if first_id is None else min(first_id, through + 1)
    if last < first:
        return None
    _insert_ignoring_duplicates(conn, union_all(*[
        select(interactions.c.customer_id, literal(j), interactions.c.occurred_at, interactions.c.id)
        .where(interactions.c.id.between(first, last), match)
        for j, match in enumerate(rule_matches(rules))]))
    trim(conn, rules, customers_in(first, last))
    if first == through + 1:
        conn.execute(update(score_coverage).where(score_coverage.c.fingerprint == mark,
                                                  score_coverage.c.last_id == through)
                     .values(last_id=last))
    else:
        conn.execute(insert(score_coverage).values(first_id=first, last_id=last, fingerprint=mark))
    return first, last


def rebuild(ctx) -> tuple[int, int] | None:
    """Recompute every hit from all interactions; return the id range covered (None: no rules)."""
    conn = ctx.conn
    conn.execute(delete(score_hits))
    conn.execute(delete(score_coverage))
    rules = ctx.config["scoring"]["rules"]
    if not rules:
        return None
    last = conn.execute(select(func.max(interactions.c.id))).scalar() or 0
    _insert_ignoring_duplicates(conn, capped_matches(rules, interactions.c.id <= last))
    conn.execute(insert(score_coverage).values(first_id=1, last_id=last, fingerprint=fingerprint(rules)))
    return 1, last


def customers_in(first_id: int, last_id: int):
    """SELECT the customers of the interactions with ids in ``first_id..last_id``."""
    return select(interactions.c.customer_id).where(interactions.c.id.between(first_id, last_id))


def trim(conn, rules: Sequence[dict[str, Any]], customers) -> None:
    """Delete the hits beyond each rule's cap of ``customers`` (a SELECT of customer ids).

    Only the (customer, rule) groups holding more than the cap are ranked.
    """
    h = score_hits
    cap = case({j: rule["cap"] for j, rule in enumerate(rules)}, value=h.c.rule)
    over = (select(h.c.customer_id, h.c.rule).where(h.c.customer_id.in_(customers))
            .group_by(h.c.customer_id, h.c.rule).having(func.count() > cap))
    rank = func.row_number().over(partition_by=(h.c.customer_id, h.c.rule),
                                  order_by=(h.c.occurred_at.desc(), h.c.interaction_id.desc()))
    ranked = (select(h.c.customer_id, h.c.rule, h.c.occurred_at, h.c.interaction_id,
                     rank.label("rn"), cap.label("cap"))
              .where(tuple_(h.c.customer_id, h.c.rule).in_(over)).subquery())
    beyond = select(ranked.c.customer_id, ranked.c.rule, ranked.c.occurred_at,
                    ranked.c.interaction_id).where(ranked.c.rn > ranked.c.cap)
    conn.execute(delete(h).where(tuple_(h.c.customer_id, h.c.rule, h.c.occurred_at,
                                        h.c.interaction_id).in_(beyond)))


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move the duplicate's hits to ``keep_id`` and keep the most recent ``cap`` per rule."""
    ctx.conn.execute(update(score_hits).where(score_hits.c.customer_id == duplicate_id)
                     .values(customer_id=keep_id))
    rules = ctx.config["scoring"]["rules"]
    if rules:
        trim(ctx.conn, rules, select(literal(keep_id)))


def _insert_ignoring_duplicates(conn, rows) -> None:
    """INSERT the SELECT ``rows`` into the hits, skipping hits already there (a concurrent batch).

    The rows go in key order, so each page of the table is visited once.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    rows = rows.subquery()
    ordered = select(rows).order_by(*rows.c)
    columns = ["customer_id", "rule", "occurred_at", "interaction_id"]
    conn.execute(dialect.insert(score_hits).from_select(columns, ordered).on_conflict_do_nothing())
