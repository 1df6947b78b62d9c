"""Upgrade ceilings: an upper bound on each member's qualifying points, so that immediate
upgrades need not sum every purchaser's tier window from the ledger.

Tier upgrades are immediate, so every batch asks, for each purchaser, whether
their qualifying points in the window (as_of − tier_window_months, as_of] now
reach a higher tier.  Summing that window from the ledger for every purchaser
reads every one of their ledger rows again in every batch (or needs a wide
covering index that each purchase writes into at a random place).  Instead
each member carries ``qualifying_ceiling``: at least the sum of the positive
qualifying values (points − owed_change of :data:`QUALIFYING_SOURCES` rows)
dated after ``ceiling_from``.  That bounds the qualifying points of every
window starting at or after ``ceiling_from``, whatever its end.

- Writes that add qualifying points raise the ceiling by at least what they
  add: the batch's member upsert by the most its purchases dated after
  ``ceiling_from`` can earn (their amounts before excluded line items, at the
  member's rate), and :func:`~.ledger.append` by its rows' values
  (:func:`raise_ceilings`).
  A NULL ceiling stays NULL (unknown); a new member starts unknown.
- Anything else that changes a member's rows (a merge) makes it unknown.
- Only members whose ceiling is unknown, starts after the window, or reaches
  their next tier's threshold have their window summed (:func:`to_check`);
  that sum also sets their ceiling afresh (:func:`window_points`, :func:`store`).

Only the ``points`` tier basis uses ceilings; they are kept up on every basis,
so switching to it later finds them valid.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.sql import Select

from .tables import QUALIFYING_SOURCES, ledger, members


def raise_ceilings(conn, rows: Iterable[dict[str, Any]]) -> None:
    """Raise the members' ceilings by the positive qualifying values of ``rows`` (ledger rows
    about to be appended); one executemany."""
    deltas: dict[int, int] = {}
    for row in rows:
        value = row["points"] - row.get("owed_change", 0)
        if row["source"] in QUALIFYING_SOURCES and value > 0:
            deltas[row["customer_id"]] = deltas.get(row["customer_id"], 0) + value
    if deltas:
        conn.execute(update(members).where(members.c.customer_id == bindparam("cid"))
                     .values(qualifying_ceiling=members.c.qualifying_ceiling + bindparam("delta")),
                     [{"cid": c, "delta": d} for c, d in sorted(deltas.items())])


def forget(conn, customer_id: int) -> None:
    """Make a member's ceiling unknown (its ledger rows changed other than by appending)."""
    conn.execute(update(members).where(members.c.customer_id == customer_id)
                 .values(qualifying_ceiling=None, ceiling_from=None))


def to_check(next_threshold, top_tier: str, scope: Any, start: dt.datetime) -> Select:
    """SELECT ``(customer_id, tier)`` of the members in ``scope`` below ``top_tier`` whose
    window (start, …] may reach ``next_threshold`` (SQL: the threshold above their tier, in
    points): ceiling unknown, valid only for windows starting later, or high enough."""
    ceiling = members.c.qualifying_ceiling
    return (select(members.c.customer_id, members.c.tier)
            .where(members.c.customer_id.in_(scope),
                   or_(members.c.tier.is_(None), members.c.tier != top_tier),
                   or_(ceiling.is_(None), members.c.ceiling_from > start,
                       ceiling >= next_threshold))
            .order_by(members.c.customer_id))


def window_points(conn, customer_ids: list[int], start: dt.datetime, as_of: dt.datetime
                  ) -> dict[int, tuple[int, int]]:
    """``{customer_id: (qualifying points in (start, as_of], new ceiling from start)}`` for the
    customers with qualifying rows dated after ``start`` (one query)."""
    value = ledger.c.points - ledger.c.owed_change
    query = (select(ledger.c.customer_id,
                    func.sum(case((ledger.c.at <= as_of, value), else_=0)),
                    func.sum(case((value > 0, value), else_=0)))
             .where(ledger.c.customer_id.in_(customer_ids), ledger.c.at > start,
                    ledger.c.source.in_(QUALIFYING_SOURCES))
             .group_by(ledger.c.customer_id))
    return {customer_id: (int(points), int(ceiling))
            for customer_id, points, ceiling in conn.execute(query)}


def store(conn, ceilings: dict[int, int], start: dt.datetime) -> None:
    """Set the members' ceilings, valid from ``start`` (one executemany)."""
    conn.execute(update(members).where(members.c.customer_id == bindparam("cid"))
                 .values(qualifying_ceiling=bindparam("ceiling"), ceiling_from=start),
                 [{"cid": c, "ceiling": v} for c, v in sorted(ceilings.items())])

