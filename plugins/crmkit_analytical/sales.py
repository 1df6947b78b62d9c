"""What counts as a purchase, a refund and a survey, as SQL over ``interactions``.

Purchases are interactions of ``purchase_kinds``; spend is *net*: amounts of
``refund_kinds`` are subtracted.  Everything is read up to and including
``as_of``.  Amounts are summed as integer money units (exact on every database).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, literal

from crmkit.plugin import ValidationError, interactions as I

from .sql import units

if TYPE_CHECKING:
    from .settings import Settings


def purchase_kinds(settings: Settings) -> list[str]:
    """The configured purchase kinds."""
    return list(settings.purchase_kinds)


def refund_kinds(settings: Settings) -> list[str]:
    """The configured refund kinds (never also purchase kinds)."""
    return list(settings.refund_kinds)


def is_purchase(settings: Settings):
    """SQL: this interaction is a purchase."""
    return I.c.kind.in_(purchase_kinds(settings))


def sales_kinds(settings: Settings):
    """SQL: this interaction is a purchase or a refund."""
    return I.c.kind.in_(purchase_kinds(settings) + refund_kinds(settings))


def within(as_of: dt.datetime, since: dt.datetime | None = None):
    """SQL: occurred in ``(since, as_of]`` (no lower bound without ``since``)."""
    if since is None:
        return I.c.occurred_at <= as_of
    return and_(I.c.occurred_at > since, I.c.occurred_at <= as_of)


def net_units(settings: Settings):
    """SQL: the interaction's signed amount in units: + for purchases, − for refunds."""
    refunds = refund_kinds(settings)
    amount = units(I.c.amount)
    if not refunds:
        return case((I.c.amount.is_(None), literal(0)), else_=amount)
    return case((I.c.amount.is_(None), literal(0)), (I.c.kind.in_(refunds), -amount), else_=amount)


def missing_measure(measure: str, where: str) -> str:
    """The error text for a money measure no enabled plugin provides, at ``where``."""
    return (f"{where}: no enabled plugin provides {measure!r} per customer (revenue is built "
            "in; margin and profit come with the catalogue plugin)")


def measure_query(crm, measure: str, as_of: dt.datetime, since: dt.datetime | None):
    """The SELECT of ``(customer_id, units)`` of the money ``measure`` over ``(since, as_of]``
    from the first enabled plugin providing it (``crmkit_customer_measure``); None for
    ``revenue``, which is built in.  ValidationError when no enabled plugin provides it."""
    if measure == "revenue":
        return None
    for name in crm.enabled_plugins():
        found = crm.hooks.call_one(name, "crmkit_customer_measure", None, crm=crm,
                                   config=crm.plugin_config(name), measure=measure,
                                   as_of=as_of, since=since)
        if found is not None:
            return found
    raise ValidationError(missing_measure(measure, "measure"))


def purchase_flag(settings: Settings):
    """SQL: 1 for a purchase, 0 otherwise (for ``SUM``/``MAX`` in aggregates)."""
    return case((is_purchase(settings), 1), else_=0)
