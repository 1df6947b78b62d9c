"""Expiry: write one ``expire`` row per lot whose points have run out of time (idempotent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import select

from . import inactivity as inact, ledger as lg
from .settings import Settings
from .tables import IS_LOT, ledger


@attrs.frozen
class ExpiryResult:
    """What an expiry run wrote."""

    rows: int
    points: int
    members: int


def expire(ctx, s: Settings, as_of: dt.datetime) -> ExpiryResult:
    """Expire what is due at ``as_of``.

    Every lot with points left whose expiry is at or before ``as_of`` loses them,
    dated at its expiry: the date fixed when it was earned (rolling, calendar)
    or, in ``inactivity`` mode, the lapse the member's activity up to ``as_of``
    gives it (see :mod:`.inactivity`), whichever comes first.  A later run
    writes nothing more for those lots (an expired lot has nothing left), so
    what is written does not depend on when or how often it runs.
    """
    conn, rule = ctx.conn, inact.of(s, as_of)
    lots = _due(rule, as_of).subquery()
    due = conn.execute(select(lots.c.customer_id).distinct()).scalars().all()
    rows: list[dict] = []
    if due:
        lg.lock_members(conn, due)
        lapsed = f"expired after {s.inactivity_months} months without activity"
        for part in lg.chunks(due):
            rows += [{"customer_id": lot.customer_id, "at": lot.expires_at, "type": "expire",
                      "source": "expiry", "points": -lot.remaining, "related_id": lot.id,
                      "reason": "expired" if lot.expires_at == lot.stored else lapsed,
                      "uses": [lg.Use(lot.id, lot.remaining)]}
                     for lot in conn.execute(_due(rule, as_of, part))]
    lg.append(conn, rows, ctx.now(), ctx.actor)
    return ExpiryResult(len(rows), -sum(r["points"] for r in rows),
                        len({r["customer_id"] for r in rows}))


def _due(rule: inact.Inactivity | None, as_of: dt.datetime, customers: Any = None):
    """SELECT ``(id, customer_id, remaining, expires_at, stored)`` of the lots with points left
    that expire at or before ``as_of``: of ``customers`` (an argument for ``IN``) in id order,
    or of everyone (None) in no order."""
    source, expires = lg.lots_with(rule, customers)
    remaining = ledger.c.points - lg.used_points()
    query = (select(ledger.c.id, ledger.c.customer_id, remaining.label("remaining"),
                    expires.label("expires_at"), ledger.c.expires_at.label("stored"))
             .select_from(source)
             .where(IS_LOT, ledger.c.at <= as_of, expires <= as_of, remaining > 0))
    if customers is not None:
        query = query.where(ledger.c.customer_id.in_(customers)).order_by(ledger.c.id)
    return query
