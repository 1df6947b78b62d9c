"""Funnel conversion from ``stage.changed`` events (never another plugin's tables).

Each event's payload names a record (``entity``, ``record_id``), the stage it
left (``from``) and entered (``to``), and the ``owner``.  The funnel follows
one lead-to-cash *flow* per customer: the events of a customer's lead and of
all their opportunities together (an event without a customer is a flow of
its own record).  With the ordered stages of config ``funnel.stages``:

* a flow *passes through* every ordered stage between the first and the
  furthest one its events mention;
* reached(s) = flows passing through s; conversion s → next = flows passing
  through s and next ÷ reached(s) × 100, so never above 100 % (a flow that
  starts at next, e.g. an existing client's opportunity, is not counted as
  converted from s);
* win rate = won ÷ (won + lost) × 100, won = flows reaching ``won_stage``,
  lost = the other flows that entered one of ``lost_stages``;
* median days in stage = median over completed stays (an event entering the
  stage to the same record's next event).

Flows can be grouped by owner (the owner on their latest event) or by the
calendar period of their first event; ``since`` keeps flows whose first
event is after it.  Everything is aggregated in SQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, case, cast, func, literal, select

from crmkit.plugin import ValidationError, days_between, events as E

from .results import FunnelOutcome, FunnelStep
from .sql import json_text, month_label, month_number

if TYPE_CHECKING:
    from .settings import Settings

GROUPS = ("all", "owner", "month", "quarter", "year")


def _events(as_of: dt.datetime):
    entity, record = json_text(E.c.payload, "entity"), json_text(E.c.payload, "record_id")
    flow = case((E.c.customer_id.is_not(None), literal("customer ") + cast(E.c.customer_id, String)),
                else_=entity + literal(" ") + record)
    return (select(flow.label("flow"), entity.label("entity"), record.label("rec"),
                   json_text(E.c.payload, "from").label("frm"),
                   json_text(E.c.payload, "to").label("dest"),
                   json_text(E.c.payload, "owner").label("owner"),
                   E.c.occurred_at, E.c.id)
            .where(E.c.type == "stage.changed", E.c.occurred_at <= as_of)).subquery("fn_events")


def _records(settings: Settings, ev, by: str, since: dt.datetime | None):
    stages = settings.funnel.stages
    index = {name: i for i, name in enumerate(stages)}

    def idx(col):
        return case(index, value=col)

    last = (select(ev.c.flow, ev.c.owner,
                   func.row_number().over(partition_by=ev.c.flow,
                                          order_by=(ev.c.occurred_at.desc(), ev.c.id.desc())).label("rn"))
            .subquery("fn_last"))
    per = (select(ev.c.flow,
                  func.min(idx(ev.c.frm)).label("lo_from"), func.min(idx(ev.c.dest)).label("lo_to"),
                  func.max(idx(ev.c.frm)).label("hi_from"), func.max(idx(ev.c.dest)).label("hi_to"),
                  func.max(case((ev.c.dest == settings.funnel.won_stage, 1), else_=0)).label("won"),
                  func.max(case((ev.c.dest.in_(settings.funnel.lost_stages), 1),
                                else_=0)).label("lost"),
                  func.min(ev.c.occurred_at).label("entered"))
           .group_by(ev.c.flow)).subquery("fn_per")
    lo = case((per.c.lo_from.is_(None), per.c.lo_to), (per.c.lo_to.is_(None), per.c.lo_from),
              (per.c.lo_from < per.c.lo_to, per.c.lo_from), else_=per.c.lo_to)
    hi = case((per.c.hi_from.is_(None), per.c.hi_to), (per.c.hi_to.is_(None), per.c.hi_from),
              (per.c.hi_from > per.c.hi_to, per.c.hi_from), else_=per.c.hi_to)
    month = month_number(per.c.entered)
    group = {"all": literal("all"), "owner": func.coalesce(last.c.owner, literal("(none)")),
             "month": month, "quarter": month // 3, "year": month // 12}[by]
    lost = case((per.c.won == 1, 0), else_=per.c.lost)  # a flow that won is not lost
    query = (select(per.c.flow, lo.label("lo"), hi.label("hi"), per.c.won, lost.label("lost"),
                    group.label("grp"))
             .select_from(per.join(last, and_(last.c.flow == per.c.flow, last.c.rn == 1))))
    if since is not None:
        query = query.where(per.c.entered > since)
    return query.subquery("fn_records")


def _label(value, by: str) -> str:
    if by == "month":
        return month_label(int(value))
    if by == "quarter":
        return f"{int(value) // 4:04d}-Q{int(value) % 4 + 1}"
    if by == "year":
        return f"{int(value):04d}"
    return str(value)


def _percent(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP))


def report(conn, settings: Settings, as_of: dt.datetime, by: str = "all",
           since: dt.datetime | None = None) -> tuple[list[FunnelStep], list[FunnelOutcome]]:
    """Funnel steps and outcomes per group."""
    if by not in GROUPS:
        raise ValidationError(f"by: {by!r} is not one of {', '.join(GROUPS)}")
    stages = settings.funnel.stages
    ev = _events(as_of)
    rec = _records(settings, ev, by, since)
    reached = [func.sum(case((and_(rec.c.lo <= i, rec.c.hi >= i), 1), else_=0)).label(f"s{i}")
               for i in range(len(stages))]
    went_on = [func.sum(case((and_(rec.c.lo <= i, rec.c.hi > i), 1), else_=0)).label(f"n{i}")
               for i in range(len(stages) - 1)]
    rows = conn.execute(select(rec.c.grp, func.count().label("records"),
                               func.sum(rec.c.won).label("won"), func.sum(rec.c.lost).label("lost"),
                               *reached, *went_on).group_by(rec.c.grp).order_by(rec.c.grp)).all()
    medians = _median_days(conn, settings, ev, rec)
    steps, outcomes = [], []
    for row in rows:
        group = _label(row.grp, by)
        counts = [int(getattr(row, f"s{i}") or 0) for i in range(len(stages))]
        for i, stage in enumerate(stages):
            nxt = stages[i + 1] if i + 1 < len(stages) else None
            steps.append(FunnelStep(group, stage, counts[i], nxt,
                                    _percent(int(getattr(row, f"n{i}") or 0), counts[i])
                                    if nxt else None,
                                    medians.get((row.grp, stage))))
        won, lost = int(row.won or 0), int(row.lost or 0)
        outcomes.append(FunnelOutcome(group, int(row.records), won, lost, _percent(won, won + lost)))
    return steps, outcomes


def lead_to_won(conn, settings: Settings, as_of: dt.datetime,
                since: dt.datetime | None = None) -> float | None:
    """% of the flows passing through the first stage that go on to ``won_stage`` (None: no flow)."""
    rec = _records(settings, _events(as_of), "all", since)
    won = settings.funnel.stages.index(settings.funnel.won_stage)
    entered, reached = conn.execute(select(
        func.sum(case((rec.c.lo == 0, 1), else_=0)),
        func.sum(case((and_(rec.c.lo == 0, rec.c.hi >= won), 1), else_=0)))).one()
    return _percent(int(reached or 0), int(entered or 0))


def _median_days(conn, settings: Settings, ev, rec) -> dict[tuple[Any, str], float]:
    """Median days in each ordered stage per group (completed stays only), in SQL."""
    key = (ev.c.entity, ev.c.rec)
    order = (ev.c.occurred_at, ev.c.id)
    stays = (select(ev.c.flow, ev.c.dest.label("stage"), ev.c.occurred_at,
                    func.lead(ev.c.occurred_at).over(partition_by=key, order_by=order).label("left_at"))
             .subquery("fn_stays"))
    durations = (select(rec.c.grp, stays.c.stage,
                        days_between(stays.c.left_at, stays.c.occurred_at).label("d"))
                 .select_from(stays.join(rec, rec.c.flow == stays.c.flow))
                 .where(stays.c.left_at.is_not(None),
                        stays.c.stage.in_(settings.funnel.stages))).subquery("fn_durations")
    part = (durations.c.grp, durations.c.stage)
    ranked = select(durations.c.grp, durations.c.stage, durations.c.d,
                    func.row_number().over(partition_by=part, order_by=durations.c.d).label("rn"),
                    func.count().over(partition_by=part).label("n")).subquery("fn_ranked")
    middle = ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    rows = conn.execute(select(ranked.c.grp, ranked.c.stage, func.avg(ranked.c.d))
                        .where(middle).group_by(ranked.c.grp, ranked.c.stage))
    return {(g, s): round(float(v), 2) for g, s, v in rows}
