"""Progress through IDIC per customer (0–4), and the identification rate.

The four steps, each worth one point:

1. identified — one of ``identity_fields`` is present (or, with the social
   plugin enabled, the customer has a social handle);
2. differentiated — the customer is in the latest differentiation run at or
   before as-of;
3. interacted — a dialogue (idic dialogue or ``dialogue_kinds`` interaction)
   within ``interact_days`` before as-of;
4. customised — a treated (not held-out) member of a treatment running at
   as-of.

Only customers known at as-of (see :func:`differentiate.population`) and not erased count.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import attrs
from sqlalchemy import and_, bindparam, case, exists, false, func, or_, select

from crmkit.plugin import customers, interactions

from .differentiate import latest_run_id, population
from .settings import Settings
from .tables import dialogues, groups, members, treatments

STEPS = ("identified", "differentiated", "interacted", "customised")


def identified_sql(settings: Settings):
    """SQL condition: the customer has one of the identity fields."""
    parts = [and_(customers.c[f].is_not(None), func.trim(customers.c[f]) != "")
             for f in settings.identity_fields]
    return or_(false(), *parts)


def social_ids(crm) -> set[int]:
    """Customers with a social handle (empty when the social plugin is not enabled)."""
    if "social" not in crm.enabled_plugins():
        return set()
    return {customer_id for customer_id, _platform, _handle in crm.plugin("social").handles()}


def flag_columns(conn, settings: Settings, as_of: dt.datetime):
    """SQL expressions of the four steps (``identified`` without social handles)."""
    run_id = latest_run_id(conn, as_of)
    differentiated = (exists().where(groups.c.run_id == run_id,
                                     groups.c.customer_id == customers.c.id)
                      if run_id is not None else false())
    since = as_of - dt.timedelta(days=settings.interact_days)
    interacted = exists().where(dialogues.c.customer_id == customers.c.id,
                                dialogues.c.at > since, dialogues.c.at <= as_of)
    if settings.dialogue_kinds:
        interacted = or_(interacted, exists().where(
            interactions.c.customer_id == customers.c.id,
            interactions.c.kind.in_(settings.dialogue_kinds),
            interactions.c.occurred_at > since, interactions.c.occurred_at <= as_of))
    customised = exists().where(
        members.c.customer_id == customers.c.id, members.c.holdout.is_(False),
        members.c.assigned_at <= as_of, members.c.treatment_id == treatments.c.id,
        treatments.c.start_at <= as_of,
        or_(treatments.c.end_at.is_(None), treatments.c.end_at >= as_of))
    return [identified_sql(settings), differentiated, interacted, customised]


def _as_int(condition):
    return case((condition, 1), else_=0)


@attrs.frozen
class Progress:
    """One customer's progress: the steps reached and their count."""

    customer: str
    name: str | None
    identified: bool
    differentiated: bool
    interacted: bool
    customised: bool

    @property
    def score(self) -> int:
        """How many of the four steps are reached (0–4)."""
        return sum((self.identified, self.differentiated, self.interacted, self.customised))


def per_customer(crm, conn, settings: Settings, as_of: dt.datetime,
                 external_id: str | None = None) -> list[Progress]:
    """Each customer's progress (one customer when ``external_id`` is given)."""
    flags = flag_columns(conn, settings, as_of)
    query = (select(customers.c.id, customers.c.external_id, customers.c.name,
                    *[_as_int(f).label(s) for f, s in zip(flags, STEPS)])
             .where(population(as_of)).order_by(customers.c.id))
    if external_id is not None:
        query = query.where(customers.c.external_id == external_id)
    handles = social_ids(crm)
    return [Progress(r.external_id, r.name, bool(r.identified) or r.id in handles,
                     bool(r.differentiated), bool(r.interacted), bool(r.customised))
            for r in conn.execute(query)]


def _chunks(ids: list[int], size: int = 5000):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def distribution(crm, conn, settings: Settings, as_of: dt.datetime) -> dict[str, Any]:
    """Counts per step and per progress score, aggregated in SQL."""
    flags = [_as_int(f) for f in flag_columns(conn, settings, as_of)]
    labelled = [f.label(s) for f, s in zip(flags, STEPS)]
    inner = select(customers.c.id, *labelled).where(population(as_of)).subquery()
    cols = [inner.c[s] for s in STEPS]
    combos = Counter()
    for row in conn.execute(select(*cols, func.count()).group_by(*cols)):
        combos[tuple(bool(v) for v in row[:4])] += row[4]
    handles = sorted(social_ids(crm))
    for chunk in _chunks(handles):
        query = (select(*cols, func.count()).where(inner.c.id.in_(bindparam("ids", expanding=True)),
                                                   inner.c.identified == 0).group_by(*cols))
        for row in conn.execute(query, {"ids": chunk}):
            key = tuple(bool(v) for v in row[:4])
            combos[key] -= row[4]
            combos[(True,) + key[1:]] += row[4]
    steps = {s: sum(n for k, n in combos.items() if k[i]) for i, s in enumerate(STEPS)}
    scores = {str(score): sum(n for k, n in combos.items() if sum(k) == score)
              for score in range(5)}
    total = sum(combos.values())
    mean = round(sum(int(s) * n for s, n in scores.items()) / total, 2) if total else 0.0
    return {"customers": total, "steps": steps, "progress": scores, "mean_progress": mean}


@attrs.frozen
class IdentificationRate:
    """Interactions attributed to an identified customer, out of all (erased customers excluded)."""

    interactions: int
    identified: int

    @property
    def rate(self) -> float:
        """The share identified, 0–1 (0 when there are no interactions)."""
        return round(self.identified / self.interactions, 4) if self.interactions else 0.0


def identification_rate(crm, conn, settings: Settings, as_of: dt.datetime,
                        since: dt.datetime | None = None) -> IdentificationRate:
    """Share of the interactions up to as-of (from ``since``) whose customer is identified."""
    window = [interactions.c.occurred_at <= as_of, customers.c.erased_at.is_(None)]
    if since is not None:
        window.append(interactions.c.occurred_at >= since)
    ident = identified_sql(settings)
    base = select(func.count(), func.coalesce(func.sum(_as_int(ident)), 0)).select_from(
        interactions.join(customers, customers.c.id == interactions.c.customer_id)).where(*window)
    total, identified = conn.execute(base).one()
    handles = sorted(social_ids(crm))
    for chunk in _chunks(handles):
        extra = (select(func.count()).select_from(
            interactions.join(customers, customers.c.id == interactions.c.customer_id))
            .where(*window, ~ident, customers.c.id.in_(bindparam("ids", expanding=True))))
        identified += conn.execute(extra, {"ids": chunk}).scalar_one()
    return IdentificationRate(int(total), int(identified))


__all__ = ["STEPS", "Progress", "IdentificationRate", "per_customer", "distribution",
           "identification_rate"]
