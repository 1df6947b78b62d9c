"""Lifecycle stages from purchase history, computed in SQL; stored with ``lifecycle.changed`` events.

Stage of a customer at ``as_of`` (days are UTC calendar days; thresholds from
config ``lifecycle``, defaults in brackets), first rule that holds:

1. ``prospect`` — no purchase up to ``as_of``;
2. ``new`` — first purchase at most ``new_days`` (90) days ago;
3. ``won_back`` — last purchase at most ``active_days`` (90) days ago, and it
   came more than ``lapsed_days`` (180) days after the purchase before it;
4. ``active`` — last purchase at most ``active_days`` days ago;
5. ``at_risk`` — last purchase at most ``lapsed_days`` days ago (91–180);
6. ``lapsed`` — otherwise.

:func:`stages` only computes.  :func:`update` stores each customer's stage
(erased customers excluded) and emits ``lifecycle.changed`` ``{"from", "to"}``
for every customer whose stored stage differs (including the first time a
stage is stored, ``from`` = null); it runs from ``crmkit sweep`` (config
``lifecycle.update_on_sweep``) and ``crmkit analytical lifecycle --update``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, case, func, insert, literal, or_, select
from sqlalchemy import update as sql_update

from crmkit.plugin import customers as C, interactions as I

from . import sales
from .results import LifecycleUpdate
from .sql import day_number, day_of
from .tables import lifecycle as L

if TYPE_CHECKING:
    from .settings import Settings

STAGES = ("prospect", "new", "won_back", "active", "at_risk", "lapsed")


def history_query(settings: Settings, as_of: dt.datetime, customer_id: int | None = None):
    """Per customer with a purchase (only ``customer_id`` when given): first and last purchase
    day, and the gap before the last."""
    day = day_number(I.c.occurred_at)
    one = [] if customer_id is None else [I.c.customer_id == customer_id]
    days = (select(I.c.customer_id, day.label("day"))
            .where(sales.is_purchase(settings), sales.within(as_of), *one)
            .group_by(I.c.customer_id, day)).subquery("lc_days")
    order = days.c.day
    lagged = select(days.c.customer_id, days.c.day,
                    func.lag(order).over(partition_by=days.c.customer_id, order_by=order).label("prev"),
                    func.row_number().over(partition_by=days.c.customer_id,
                                           order_by=order.desc()).label("rn")).subquery("lc_lagged")
    return (select(lagged.c.customer_id,
                   func.min(lagged.c.day).label("first_day"),
                   func.max(lagged.c.day).label("last_day"),
                   func.max(case((lagged.c.rn == 1, lagged.c.day - lagged.c.prev))).label("gap"))
            .group_by(lagged.c.customer_id))


def stage_case(settings: Settings, as_of: dt.datetime, history):
    """SQL ``CASE`` giving the stage from a row of :func:`history_query` (NULLs = prospect)."""
    rules = settings.lifecycle
    today = literal(day_of(as_of))
    since_last = today - history.c.last_day
    return case(
        (history.c.first_day.is_(None), literal("prospect")),
        (today - history.c.first_day <= rules.new_days, literal("new")),
        (and_(since_last <= rules.active_days, history.c.gap > rules.lapsed_days),
         literal("won_back")),
        (since_last <= rules.active_days, literal("active")),
        (since_last <= rules.lapsed_days, literal("at_risk")),
        else_=literal("lapsed"))


def stages_query(settings: Settings, as_of: dt.datetime, include_erased: bool = True,
                 customer_id: int | None = None):
    """``(customer_id, stage)`` of every customer known at ``as_of`` (created by then, or
    buying); only ``customer_id``'s when given."""
    history = history_query(settings, as_of, customer_id).subquery("lc_history")
    query = (select(C.c.id.label("customer_id"), stage_case(settings, as_of, history).label("stage"))
             .select_from(C.outerjoin(history, history.c.customer_id == C.c.id))
             .where(or_(C.c.created_at <= as_of, history.c.first_day.is_not(None))))
    if not include_erased:
        query = query.where(C.c.erased_at.is_(None))
    if customer_id is not None:
        query = query.where(C.c.id == customer_id)
    return query


def stages(conn, settings: Settings, as_of: dt.datetime) -> dict[int, str]:
    """``{customer id: stage}`` at ``as_of``."""
    return dict(conn.execute(stages_query(settings, as_of)).all())


def stage_of(conn, settings: Settings, as_of: dt.datetime, customer_id: int) -> str | None:
    """One customer's stage at ``as_of`` (None when not known then), from their purchases only."""
    row = conn.execute(stages_query(settings, as_of, customer_id=customer_id)).one_or_none()
    return None if row is None else row.stage


def counts(conn, settings: Settings, as_of: dt.datetime) -> dict[str, int]:
    """Customers per stage at ``as_of`` (every stage listed, zeros included)."""
    sub = stages_query(settings, as_of).subquery("lc_stages")
    found = dict(conn.execute(select(sub.c.stage, func.count()).group_by(sub.c.stage)).all())
    return {stage: int(found.get(stage, 0)) for stage in STAGES}


def current_stages(conn, settings: Settings, as_of: dt.datetime) -> dict[int, str]:
    """``{customer id: stage}`` at ``as_of`` of every customer not erased: what :func:`update`
    stores (the sweep reads it before its write transaction)."""
    return dict(conn.execute(stages_query(settings, as_of, include_erased=False)).all())


def update(ctx, settings: Settings, as_of: dt.datetime,
           current: dict[int, str] | None = None) -> LifecycleUpdate:
    """Store stages at ``as_of``; emit ``lifecycle.changed`` for each customer whose stage
    changed.  ``current``: :func:`current_stages` read before this transaction, without the
    customers changed since (:func:`.sql.still_current`); read now when None."""
    conn = ctx.conn
    if current is None:
        current = current_stages(conn, settings, as_of)
    stored = dict(conn.execute(select(L.c.customer_id, L.c.stage)).all())
    now = ctx.now()
    fresh = [{"customer_id": c, "stage": s, "previous_stage": None, "changed_at": as_of,
              "updated_at": now} for c, s in current.items() if c not in stored]
    moved = [{"cid": c, "new_stage": s, "old_stage": stored[c], "at": as_of, "now": now}
             for c, s in current.items() if c in stored and stored[c] != s]
    if fresh:
        conn.execute(insert(L), fresh)
    if moved:
        conn.execute(sql_update(L).where(L.c.customer_id == bindparam("cid"))
                     .values(stage=bindparam("new_stage"), previous_stage=bindparam("old_stage"),
                             changed_at=bindparam("at"), updated_at=bindparam("now")),
                     moved)
    for row in fresh:
        ctx.emit("lifecycle.changed", row["customer_id"],
                 {"from": None, "to": row["stage"], "as_of": as_of.isoformat()})
    for row in moved:
        ctx.emit("lifecycle.changed", row["cid"],
                 {"from": row["old_stage"], "to": row["new_stage"], "as_of": as_of.isoformat()})
    tally = Counter(current.values())
    return LifecycleUpdate(as_of, {s: tally.get(s, 0) for s in STAGES}, len(fresh) + len(moved))

