"""Funnel conversion from ``stage.changed`` events (never another plugin's tables).

Each event's payload names a record (``entity``, ``record_id``), the stage it
left (``from``) and entered (``to``), and the ``owner``.  With the ordered
stages of config ``funnel.stages``:

* a record *passes through* every ordered stage between the first and the
  furthest one its events mention;
* reached(s) = records passing through s; conversion s → next =
  reached(next) ÷ reached(s) × 100 (leads and opportunities are counted
  alike, so ``sql → qualification`` compares opportunities with SQL leads);
* win rate = won ÷ (won + lost) × 100 over records whose events reach
  ``won_stage`` or one of ``lost_stages``;
* median days in stage = median over completed stays (an event entering the
  stage to the record's next event).

Records can be grouped by owner (the owner on their latest event) or by the
calendar period of their first event; ``since`` keeps records whose first
event is after it.  Everything is aggregated in SQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select

from crmkit.db import days_between
from crmkit.errors import ValidationError
from crmkit.tables import events as E

from .results import FunnelOutcome, FunnelStep
from .sql import json_text, month_label, month_number

GROUPS = ("all", "owner", "month", "quarter", "year")


def _events(as_of: dt.datetime):
    return (select(json_text(E.c.payload, "entity").label("entity"),
                   json_text(E.c.payload, "record_id").label("rec"),
                   json_text(E.c.payload, "from").label("frm"),
                   json_text(E.c.payload, "to").label("dest"),
                   json_text(E.c.payload, "owner").label("owner"),
                   E.c.occurred_at, E.c.id)
            .where(E.c.type == "stage.changed", E.c.occurred_at <= as_of)).subquery("fn_events")


def _records(config: dict[str, Any], ev, by: str, since: dt.datetime | None):
    stages = config["funnel"]["stages"]
    index = {name: i for i, name in enumerate(stages)}

    def idx(col):
        return case(index, value=col)

    key = (ev.c.entity, ev.c.rec)
    last = (select(ev.c.entity, ev.c.rec, ev.c.owner,
                   func.row_number().over(partition_by=key,
                                          order_by=(ev.c.occurred_at.desc(), ev.c.id.desc())).label("rn"))
            .subquery("fn_last"))
    per = (select(ev.c.entity, ev.c.rec,
                  func.min(idx(ev.c.frm)).label("lo_from"), func.min(idx(ev.c.dest)).label("lo_to"),
                  func.max(idx(ev.c.frm)).label("hi_from"), func.max(idx(ev.c.dest)).label("hi_to"),
                  func.max(case((ev.c.dest == config["funnel"]["won_stage"], 1), else_=0)).label("won"),
                  func.max(case((ev.c.dest.in_(config["funnel"]["lost_stages"]), 1),
                                else_=0)).label("lost"),
                  func.min(ev.c.occurred_at).label("entered"))
           .group_by(ev.c.entity, ev.c.rec)).subquery("fn_per")
    lo = case((per.c.lo_from.is_(None), per.c.lo_to), (per.c.lo_to.is_(None), per.c.lo_from),
              (per.c.lo_from < per.c.lo_to, per.c.lo_from), else_=per.c.lo_to)
    hi = case((per.c.hi_from.is_(None), per.c.hi_to), (per.c.hi_to.is_(None), per.c.hi_from),
              (per.c.hi_from > per.c.hi_to, per.c.hi_from), else_=per.c.hi_to)
    month = month_number(per.c.entered)
    group = {"all": literal("all"), "owner": func.coalesce(last.c.owner, literal("(none)")),
             "month": month, "quarter": month // 3, "year": month // 12}[by]
    query = (select(per.c.entity, per.c.rec, lo.label("lo"), hi.label("hi"), per.c.won, per.c.lost,
                    group.label("grp"))
             .select_from(per.join(last, and_(last.c.entity == per.c.entity, last.c.rec == per.c.rec,
                                              last.c.rn == 1))))
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


def report(conn, config: dict[str, Any], as_of: dt.datetime, by: str = "all",
           since: dt.datetime | None = None) -> tuple[list[FunnelStep], list[FunnelOutcome]]:
    """Funnel steps and outcomes per group."""
    if by not in GROUPS:
        raise ValidationError(f"by: {by!r} is not one of {', '.join(GROUPS)}")
    stages = config["funnel"]["stages"]
    ev = _events(as_of)
    rec = _records(config, ev, by, since)
    reached = [func.sum(case((and_(rec.c.lo <= i, rec.c.hi >= i), 1), else_=0)).label(f"s{i}")
               for i in range(len(stages))]
    rows = conn.execute(select(rec.c.grp, func.count().label("records"),
                               func.sum(rec.c.won).label("won"), func.sum(rec.c.lost).label("lost"),
                               *reached).group_by(rec.c.grp).order_by(rec.c.grp)).all()
    medians = _median_days(conn, config, ev, rec)
    steps, outcomes = [], []
    for row in rows:
        group = _label(row.grp, by)
        counts = [int(getattr(row, f"s{i}") or 0) for i in range(len(stages))]
        for i, stage in enumerate(stages):
            nxt = stages[i + 1] if i + 1 < len(stages) else None
            steps.append(FunnelStep(group, stage, counts[i], nxt,
                                    _percent(counts[i + 1], counts[i]) if nxt else None,
                                    medians.get((row.grp, stage))))
        won, lost = int(row.won or 0), int(row.lost or 0)
        outcomes.append(FunnelOutcome(group, int(row.records), won, lost, _percent(won, won + lost)))
    return steps, outcomes


def _median_days(conn, config: dict[str, Any], ev, rec) -> dict[tuple[Any, str], float]:
    """Median days in each ordered stage per group (completed stays only), in SQL."""
    key = (ev.c.entity, ev.c.rec)
    order = (ev.c.occurred_at, ev.c.id)
    stays = (select(ev.c.entity, ev.c.rec, ev.c.dest.label("stage"), ev.c.occurred_at,
                    func.lead(ev.c.occurred_at).over(partition_by=key, order_by=order).label("left_at"))
             .subquery("fn_stays"))
    durations = (select(rec.c.grp, stays.c.stage,
                        days_between(stays.c.left_at, stays.c.occurred_at).label("d"))
                 .select_from(stays.join(rec, and_(rec.c.entity == stays.c.entity,
                                                   rec.c.rec == stays.c.rec)))
                 .where(stays.c.left_at.is_not(None),
                        stays.c.stage.in_(config["funnel"]["stages"]))).subquery("fn_durations")
    part = (durations.c.grp, durations.c.stage)
    ranked = select(durations.c.grp, durations.c.stage, durations.c.d,
                    func.row_number().over(partition_by=part, order_by=durations.c.d).label("rn"),
                    func.count().over(partition_by=part).label("n")).subquery("fn_ranked")
    middle = ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    rows = conn.execute(select(ranked.c.grp, ranked.c.stage, func.avg(ranked.c.d))
                        .where(middle).group_by(ranked.c.grp, ranked.c.stage))
    return {(g, s): round(float(v), 2) for g, s, v in rows}
