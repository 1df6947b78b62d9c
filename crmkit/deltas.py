"""Per-batch customer deltas: what one batch of interactions added to each customer's history.

Computed once per batch and handed to react hooks through
:meth:`crmkit.Batch.customer_deltas`, so that plugins update derived state (counts,
totals, scores) from what the batch added instead of reading each customer's history
again: from the batch's own rows while it holds them (in its react step), else with
one grouped SELECT over its id range (the batches after-commit hooks receive).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from sqlalchemy import BigInteger, func, select, type_coerce

from .tables import interactions
from .types import money_from_units, money_units


@attrs.frozen
class CustomerDelta:
    """What one batch added to one customer's interactions of one ``kind``.

    ``count`` rows; ``amount`` the sum of their amounts (rows without one add 0;
    amounts are summed as recorded, whatever their currency); ``first_at`` and
    ``last_at`` the earliest and latest ``occurred_at`` among them.
    """

    customer_id: int
    kind: str
    count: int
    amount: Decimal
    first_at: dt.datetime
    last_at: dt.datetime


Deltas = dict[int, dict[str, CustomerDelta]]
"""``{customer_id: {kind: CustomerDelta}}`` of the customers a batch touched."""


def customer_deltas(conn, first_id: int, last_id: int) -> Deltas:
    """The deltas of the interactions with ids ``first_id..last_id`` (one grouped SELECT)."""
    i = interactions.c
    query = (select(i.customer_id, i.kind, func.count(),
                    func.coalesce(func.sum(type_coerce(i.amount, BigInteger())), 0),
                    func.min(i.occurred_at), func.max(i.occurred_at))
             .where(i.id.between(first_id, last_id))
             .group_by(i.customer_id, i.kind))
    deltas: Deltas = {}
    for customer_id, kind, count, units, first_at, last_at in conn.execute(query):
        deltas.setdefault(customer_id, {})[kind] = CustomerDelta(
            customer_id, kind, int(count), money_from_units(units), first_at, last_at)
    return deltas


def deltas_of_rows(rows) -> Deltas:
    """The deltas of persisted interaction rows held in memory (a batch's ``rows``): the
    same answer as :func:`customer_deltas` over their ids, without reading them back."""
    totals: dict[tuple[int, str], list] = {}
    for row in rows:
        key = (row["customer_id"], row["kind"])
        at, amount = row["occurred_at"], row["amount"]
        units = 0 if amount is None else money_units(amount)
        found = totals.get(key)
        if found is None:
            totals[key] = [1, units, at, at]
            continue
        found[0] += 1
        found[1] += units
        if at < found[2]:
            found[2] = at
        elif at > found[3]:
            found[3] = at
    deltas: Deltas = {}
    for (customer_id, kind), (count, units, first_at, last_at) in totals.items():
        deltas.setdefault(customer_id, {})[kind] = CustomerDelta(
            customer_id, kind, count, money_from_units(units), first_at, last_at)
    return deltas


__all__ = ["CustomerDelta", "Deltas", "customer_deltas", "deltas_of_rows"]
