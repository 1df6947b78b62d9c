"""RFM: recency, frequency and monetary value per customer, scored by quantile in SQL.

For each customer with a purchase up to ``as_of``: R = days since the last
purchase (UTC calendar days), F = purchases (or distinct purchase days), M =
net spend (or net spend / F).  Each is scored 1..bins with window functions:

    score = bins for the best value, else ⌊bins · (customers with a strictly worse value) / n⌋ + 1

where "worse" is a longer recency, or a lower F or M.  ``RANK()`` gives equal
values the same count, so equal values always get equal scores, and the best
customers (however many share the best value, a single customer included) get
``bins``.  Segments are the configured rules compiled to one
``CASE`` (first match wins).

``values`` (a SELECT of ``(customer_id, units)`` from a plugin's
``crmkit_customer_measure``, e.g. gross margin or profit) replaces net spend in M for
the same customers (0 where the measure has no row).

Scoring one customer reads every customer's purchases.  So that the customer 360
card need not, ``crmkit sweep`` stores every customer's scores (:func:`store`,
``rfm.store_on_sweep``) and :func:`stored_score` reads one of them back, as of
that sweep and only while the settings they depend on are unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import (bindparam, case, delete, distinct, exists, func, insert, literal, null,
                        select, true)

from crmkit.plugin import (
    ConfigError, condition_to_sql as to_sql, customers as C, insert_rows, interactions as I,
    money_from_units, update_rows,
)

from . import sales
from .results import RFMScore
from .sql import day_number, day_of, money_value
from .tables import rfm_scores as S, rfm_sweep as W

if TYPE_CHECKING:
    from .settings import Settings

FIELDS = ("r", "f", "m", "recency_days", "frequency", "monetary")
MONEY_FIELDS = ("monetary",)
"""Fields a segment rule may test."""


def values_query(settings: Settings, as_of: dt.datetime):
    """Per customer: last purchase day, F and net spend units (customers with a purchase)."""
    day = day_number(I.c.occurred_at)
    purchase = sales.is_purchase(settings)
    if settings.rfm.frequency == "days":
        frequency = func.count(distinct(case((purchase, day))))
    else:
        frequency = func.sum(sales.purchase_flag(settings))
    # the day of the latest purchase instant: one day conversion per customer, not per row
    return (select(I.c.customer_id,
                   day_number(func.max(case((purchase, I.c.occurred_at)))).label("last_day"),
                   frequency.label("frequency"),
                   func.sum(sales.net_units(settings)).label("net"))
            .where(sales.sales_kinds(settings), sales.within(as_of))
            .group_by(I.c.customer_id)
            .having(func.sum(sales.purchase_flag(settings)) > 0))


def _measured(settings: Settings, as_of: dt.datetime, values=None):
    """The per-customer values subquery (``values`` replacing net spend when given) and the
    monetary expression over it."""
    per = values_query(settings, as_of).subquery("rfm_values")
    if values is not None:
        given = values.subquery("rfm_measure")
        per = (select(per.c.customer_id, per.c.last_day, per.c.frequency,
                      func.coalesce(given.c.units, 0).label("net"))
               .outerjoin(given, given.c.customer_id == per.c.customer_id)).subquery("rfm_values_m")
    if settings.rfm.monetary == "mean":
        return per, per.c.net * 1.0 / per.c.frequency
    return per, per.c.net


def scored_query(settings: Settings, as_of: dt.datetime, values=None):
    """Per customer: recency_days, frequency, monetary units, r, f, m (a subquery-ready select)."""
    bins = settings.rfm.bins
    per, monetary = _measured(settings, as_of, values)
    recency = (literal(day_of(as_of)) - per.c.last_day)
    n = func.count().over()

    def score(worst_first, best):
        # "ranked first from the best end" is "equal to the best value": an aggregate over
        # the whole window, without the sort a second RANK() would cost
        return case((worst_first.element == best.over(), bins),
                    else_=(func.rank().over(order_by=worst_first) - 1) * bins // n + 1)

    return select(per.c.customer_id,
                  recency.label("recency_days"),
                  per.c.frequency,
                  per.c.net,
                  monetary.label("monetary_units"),
                  score(recency.desc(), func.min(recency)).label("r"),
                  score(per.c.frequency.asc(), func.max(per.c.frequency)).label("f"),
                  score(monetary.asc(), func.max(monetary)).label("m"))


def segment_case(settings: Settings, scored):
    """SQL ``CASE`` naming the first segment rule that holds for a row of ``scored``."""
    rules = settings.rfm.segments
    if not rules:
        return null()

    def column_for(field: str, op: str):
        if field not in FIELDS:
            raise ConfigError(f"rfm segment field {field!r} is unknown (allowed: {', '.join(FIELDS)})")
        if field == "monetary":
            return money_value(scored.c.monetary_units)
        return scored.c[field]

    return case(*[(to_sql(rule.condition, column_for), literal(rule.name)) for rule in rules],
                else_=null())


def query(settings: Settings, as_of: dt.datetime, values=None):
    """The full RFM select, by customer id: customer_id, external_id, recency_days,
    frequency, net (money units), r, f, m, segment."""
    scored = scored_query(settings, as_of, values).subquery("rfm_scored")
    return (select(scored.c.customer_id, C.c.external_id, scored.c.recency_days,
                   scored.c.frequency, scored.c.net, scored.c.r, scored.c.f, scored.c.m,
                   segment_case(settings, scored).label("segment"))
            .join(C, C.c.id == scored.c.customer_id)
            .order_by(scored.c.customer_id))


def _monetary(settings: Settings):
    """``(net units, frequency) -> Decimal`` monetary value as the config defines it."""
    places = Decimal("0.0001")
    if settings.rfm.monetary == "mean":
        return lambda net, frequency: (money_from_units(net or 0) / frequency).quantize(places)
    return lambda net, frequency: money_from_units(net or 0)


def scores(conn, settings: Settings, as_of: dt.datetime, values=None) -> list[RFMScore]:
    """Every scored customer, by customer id."""
    monetary = _monetary(settings)
    return [RFMScore(cid, external_id, int(recency), int(frequency), monetary(net, frequency),
                     int(r), int(f), int(m), segment)
            for cid, external_id, recency, frequency, net, r, f, m, segment
            in conn.execute(query(settings, as_of, values))]


def customer_score(conn, settings: Settings, as_of: dt.datetime, customer_id: int,
                   external_id: str, values=None) -> RFMScore | None:
    """One customer's RFM, None without a purchase: the same scores as :func:`scores`, in one
    statement that counts the customers better and worse than this one (all the score
    formula needs) instead of ranking every customer."""
    if not conn.execute(select(exists().where(
            I.c.customer_id == customer_id, sales.is_purchase(settings),
            sales.within(as_of)))).scalar_one():
        return None  # decided on the customer's own rows, without scoring every customer
    bins = settings.rfm.bins
    per, monetary = _measured(settings, as_of, values)
    every = select(per.c.customer_id, per.c.last_day, per.c.frequency, per.c.net,
                   monetary.label("monetary_units")).cte("rfm_every")  # computed once
    mine = (select(every.c.last_day, every.c.frequency, every.c.net, every.c.monetary_units)
            .where(every.c.customer_id == customer_id)).subquery("rfm_mine")

    def tally(condition):
        return func.sum(case((condition, 1), else_=0))

    counted = (select(mine, func.count().label("n"),
                      *[tally(getattr(every.c, column) > getattr(mine.c, column)).label(f"{key}_up")
                        for key, column in (("r", "last_day"), ("f", "frequency"),
                                            ("m", "monetary_units"))],
                      *[tally(getattr(every.c, column) < getattr(mine.c, column)).label(f"{key}_down")
                        for key, column in (("r", "last_day"), ("f", "frequency"),
                                            ("m", "monetary_units"))])
               .select_from(mine.join(every, true()))
               .group_by(*mine.c)).subquery("rfm_counted")

    def score(key):  # the best value scores bins, else ⌊bins · worse / n⌋ + 1
        better, worse = counted.c[f"{key}_up"], counted.c[f"{key}_down"]
        return case((better == 0, bins), else_=worse * bins // counted.c.n + 1)

    one = select((literal(day_of(as_of)) - counted.c.last_day).label("recency_days"),
                 counted.c.frequency, counted.c.net, counted.c.monetary_units,
                 score("r").label("r"), score("f").label("f"), score("m").label("m")
                 ).subquery("rfm_one")
    row = conn.execute(select(one.c.recency_days, one.c.frequency, one.c.net, one.c.r,
                              one.c.f, one.c.m, segment_case(settings, one))).one_or_none()
    if row is None:
        return None
    recency, frequency, net, r, f, m, segment = row
    return RFMScore(customer_id, external_id, int(recency), int(frequency),
                    _monetary(settings)(net, frequency), int(r), int(f), int(m), segment)


_STORED = ("last_day", "frequency", "net", "r", "f", "m", "segment")
"""The columns of a stored score after the customer id."""


def depends_on(settings: Settings) -> dict[str, Any]:
    """What the scores depend on, as JSON stores it: the purchase and refund kinds and the
    ``rfm`` settings."""
    rfm = settings.rfm
    return json.loads(json.dumps({
        "purchase_kinds": settings.purchase_kinds, "refund_kinds": settings.refund_kinds,
        "bins": rfm.bins, "frequency": rfm.frequency, "monetary": rfm.monetary,
        "segments": [{"name": rule.name, "if": rule.condition} for rule in rfm.segments]}))


def scores_to_store(conn, settings: Settings, as_of: dt.datetime) -> dict[int, tuple]:
    """Every scored customer's stored columns (:data:`_STORED`) at ``as_of``, erased
    customers left out: what :func:`store` writes (the sweep reads it before its write
    transaction)."""
    day = day_of(as_of)
    return {cid: (day - int(recency), int(frequency), int(net or 0), int(r), int(f), int(m),
                  segment)
            for cid, _, recency, frequency, net, r, f, m, segment
            in conn.execute(query(settings, as_of).where(C.c.erased_at.is_(None)))}


def store(ctx, settings: Settings, as_of: dt.datetime,
          current: dict[int, tuple] | None = None) -> int:
    """Store every scored customer's RFM at ``as_of`` and record the sweep; only rows that
    changed are written.  ``current``: :func:`scores_to_store` read before this transaction,
    without the customers changed since (:func:`.sql.still_current`); read now when None.
    Returns how many rows changed."""
    conn = ctx.conn
    if current is None:
        current = scores_to_store(conn, settings, as_of)
    stored = {cid: tuple(rest) for cid, *rest in
              conn.execute(select(S.c.customer_id, *(S.c[name] for name in _STORED)))}
    added = [dict(zip(("customer_id", *_STORED), (cid, *values)))
             for cid, values in current.items() if cid not in stored]
    changed = [(*values, cid) for cid, values in current.items()
               if cid in stored and stored[cid] != values]
    gone = [{"cid": cid} for cid in stored if cid not in current]
    insert_rows(conn, S, added)
    update_rows(conn, S, "customer_id", _STORED, changed)
    if gone:
        conn.execute(delete(S).where(S.c.customer_id == bindparam("cid")), gone)
    conn.execute(delete(W))
    conn.execute(insert(W).values(id=1, as_of=as_of, settings=depends_on(settings),
                                  customers=len(current), updated_at=ctx.now()))
    return len(added) + len(changed) + len(gone)


def stored_score(conn, settings: Settings, customer_id: int, external_id: str
                 ) -> tuple[dt.datetime, RFMScore] | None:
    """The customer's score as the last sweep stored it, with that sweep's ``as_of``; None
    when the sweep did not store them (no purchase then, new since, merged) or stored no
    scores under the current settings."""
    sweep = conn.execute(select(W.c.as_of, W.c.settings)).first()
    if sweep is None or sweep.settings != depends_on(settings):
        return None
    row = conn.execute(select(*(S.c[name] for name in _STORED))
                       .where(S.c.customer_id == customer_id)).first()
    if row is None:
        return None
    last_day, frequency, net, r, f, m, segment = row
    return sweep.as_of, RFMScore(customer_id, external_id, day_of(sweep.as_of) - last_day,
                                 frequency, _monetary(settings)(net, frequency), r, f, m, segment)


def table_rows(conn, settings: Settings, as_of: dt.datetime, values=None
               ) -> Iterator[tuple]:
    """Every scored customer as a tuple (external_id, recency_days, frequency, monetary, r, f,
    m, segment), by customer id, streamed from the query (no object per customer)."""
    monetary = _monetary(settings)
    for chunk in conn.execute(query(settings, as_of, values)).partitions(10_000):
        for _, external_id, recency, frequency, net, r, f, m, segment in chunk:
            yield (external_id, int(recency), int(frequency), monetary(net, frequency), int(r),
                   int(f), int(m), segment)


def segment_counts(conn, settings: Settings, as_of: dt.datetime, values=None
                   ) -> dict[str, int]:
    """Customers per segment (``None`` for customers no rule matched), in rule order."""
    scored = scored_query(settings, as_of, values).subquery("rfm_scored")
    label = segment_case(settings, scored).label("segment")
    rows = dict(conn.execute(select(label, func.count()).group_by(label)).all())
    ordered = {rule.name: rows.pop(rule.name, 0) for rule in settings.rfm.segments}
    if rows.get(None):
        ordered["(none)"] = rows[None]
    return ordered


def grid(conn, settings: Settings, as_of: dt.datetime, values=None) -> list[dict[str, Any]]:
    """Customers and mean monetary value per (r, f) cell: the RFM grid."""
    scored = scored_query(settings, as_of, values).subquery("rfm_scored")
    rows = conn.execute(select(scored.c.r, scored.c.f, func.count().label("customers"),
                               func.sum(scored.c.net).label("net"))
                        .group_by(scored.c.r, scored.c.f).order_by(scored.c.r, scored.c.f))
    return [{"r": int(r.r), "f": int(r.f), "customers": int(r.customers),
             "mean_net_spend": (money_from_units(r.net or 0) / r.customers)
             .quantize(Decimal("0.01"))} for r in rows]
