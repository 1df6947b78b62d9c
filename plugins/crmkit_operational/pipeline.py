"""The weighted pipeline: Σ amount × probability of open opportunities, grouped in SQL.

An opportunity's stage is taken from its stage history as of ``as_of`` (so a
report for a past date is reproducible); amount, currency, owner and expected
close date are its current values.  Amounts in different currencies are
never added together: currency is always a grouping column.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import BigInteger, String, case, cast, func, select, type_coerce, union_all

from crmkit.plugin import MONEY_SCALE

from .stages import DISQUALIFIED, LEAD_STAGES, LOST, WON, Stages
from .tables import opportunities, stage_history

DIMENSIONS = ("stage", "owner", "month")


def stage_as_of(as_of: dt.datetime):
    """Subquery: each opportunity's stage at ``as_of`` (``record_id``, ``stage``)."""
    h = stage_history
    ranked = (select(h.c.record_id, h.c.to_stage.label("stage"),
                     func.row_number().over(partition_by=h.c.record_id,
                                            order_by=(h.c.at.desc(), h.c.id.desc())).label("rn"))
              .where(h.c.entity == "opportunity", h.c.at <= as_of).subquery())
    return select(ranked.c.record_id, ranked.c.stage).where(ranked.c.rn == 1).subquery()


def weighted_pipeline(conn, stages: Stages, as_of: dt.datetime,
                      by: Sequence[str] = ("stage",), owner: str | None = None
                      ) -> list[dict[str, Any]]:
    """Rows per ``by`` (any of stage, owner, month) and currency: count, amount, weighted amount.

    ``weighted = Σ amount × probability / 100`` over opportunities open at
    ``as_of`` (won and lost are closed business, not pipeline); only ``owner``'s
    opportunities when ``owner`` is given.
    """
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown or not by:
        raise ValueError(f"group by {', '.join(unknown) or 'nothing'}: allowed {', '.join(DIMENSIONS)}")
    o = opportunities
    current = stage_as_of(as_of)
    probability = case({s: stages.probability[s] for s in stages.opportunity},
                       value=current.c.stage, else_=0)
    units = type_coerce(o.c.amount, BigInteger)
    columns = {"stage": current.c.stage, "owner": o.c.owner,
               "month": func.substr(cast(o.c.expected_close, String), 1, 7)}
    keys = [columns[d].label(d) for d in by]
    query = (select(*keys, o.c.currency, func.count().label("opportunities"),
                    type_coerce(func.sum(units), BigInteger).label("units"),
                    type_coerce(func.sum(units * probability), BigInteger).label("weighted_units"))
             .join(current, current.c.record_id == o.c.id)
             .where(current.c.stage.in_(stages.opportunity))
             .group_by(*[columns[d] for d in by], o.c.currency))
    if owner is not None:
        query = query.where(o.c.owner == owner)
    rows = []
    for r in conn.execute(query).mappings():
        row = {d: r[d] for d in by}
        row.update(currency=r["currency"], opportunities=r["opportunities"],
                   amount=Decimal(int(r["units"] or 0)) / MONEY_SCALE,
                   weighted=Decimal(int(r["weighted_units"] or 0)) / (MONEY_SCALE * 100))
        if "stage" in by:
            row["probability"] = stages.probability[row["stage"]]
        rows.append(row)
    order = {s: i for i, s in enumerate(stages.opportunity)}
    rows.sort(key=lambda r: tuple((order.get(r[d], 99) if d == "stage" else (r[d] is None, r[d] or ""))
                                  for d in by) + (r["currency"],))
    return rows


def stage_counts(conn, stages: Stages, as_of: dt.datetime) -> list[dict[str, Any]]:
    """The funnel at ``as_of``, one row per stage in order (lead stages, opportunity stages,
    won, then the exits lost and disqualified), from the stage history in SQL.

    ``current``: leads and opportunities whose stage at ``as_of`` is this one;
    ``reached``: customers whose furthest stage (over their lead's and opportunities'
    moves up to ``as_of``) is this one or a later one (None for the exits);
    ``conversion``: % of those reaching this stage who reached the next (one decimal;
    None for the last ordered stage, the exits, or when none reached this one).
    """
    h = stage_history
    ordered = list(LEAD_STAGES) + stages.opportunity + [WON]
    order = {name: i for i, name in enumerate(ordered)}
    ranked = (select(h.c.to_stage.label("stage"),
                     func.row_number().over(partition_by=(h.c.entity, h.c.record_id),
                                            order_by=(h.c.at.desc(), h.c.id.desc())).label("rn"))
              .where(h.c.at <= as_of).subquery("current_stages"))
    current = dict(conn.execute(select(ranked.c.stage, func.count())
                                .where(ranked.c.rn == 1).group_by(ranked.c.stage)).all())
    moves = union_all(*[select(h.c.customer_id, case(order, value=column).label("position"))
                        .where(h.c.at <= as_of) for column in (h.c.from_stage, h.c.to_stage)]
                      ).subquery("stage_positions")
    furthest = (select(func.max(moves.c.position).label("position"))
                .group_by(moves.c.customer_id).subquery("furthest_stage"))
    at_most = dict(conn.execute(select(furthest.c.position, func.count())
                                .where(furthest.c.position.is_not(None))
                                .group_by(furthest.c.position)).all())
    reached = [sum(n for position, n in at_most.items() if position >= index)
               for index in range(len(ordered))]
    rows = []
    for index, name in enumerate(ordered):
        following = reached[index + 1] if index + 1 < len(ordered) else None
        conversion = (None if following is None or not reached[index]
                      else round(following * 100 / reached[index], 1))
        rows.append({"stage": name, "current": int(current.get(name, 0)),
                     "reached": reached[index], "conversion": conversion})
    for name in (LOST, DISQUALIFIED):
        rows.append({"stage": name, "current": int(current.get(name, 0)), "reached": None,
                     "conversion": None})
    return rows



def with_contributions(rows: list[dict[str, Any]], contributions: Sequence[dict[str, Any]],
                       by: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` with the expected revenue other plugins contribute (the
    ``crmkit_forecast_contributions`` hook) added: each contribution is counted in the row of
    its label (as stage), owner and expected close month, and currency, after the
    opportunities' rows when its label is a stage of its own."""
    if not contributions:
        return rows
    keyed = {tuple(r[d] for d in by) + (r["currency"],): r for r in rows}
    for item in contributions:
        values = {"stage": item["label"], "owner": item.get("owner"),
                  "month": item["expected_close"].isoformat()[:7]}
        key = tuple(values[d] for d in by) + (item["currency"],)
        row = keyed.get(key)
        if row is None:
            row = keyed[key] = {**{d: values[d] for d in by}, "currency": item["currency"],
                                "opportunities": 0, "amount": Decimal(0),
                                "weighted": Decimal(0)}
            if "stage" in by:
                row["probability"] = item["probability"]
            rows.append(row)
        row["opportunities"] += item["count"]
        row["amount"] += item["amount"]
        row["weighted"] += item["amount"] * item["probability"] / 100
    return rows


__all__ = ["weighted_pipeline", "with_contributions", "stage_as_of", "stage_counts",
           "DIMENSIONS"]
