"""SQL pieces the analytics are built from, and their Python counterparts.

Calendar arithmetic is in UTC: a *day number* is whole days since
1970-01-01, a *month number* is ``year * 12 + month - 1``.  The portable SQL
of both, and the JSON readers, are the core's (``crmkit.plugin``); this module
adds the Python side of each, money in exact units, and the column lookup of
conditions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from crmkit.plugin import (MONEY_SCALE, ConfigError, condition_money, customer_field,
                           customers, events, is_customer_field, money_units)
# the analytics modules import the core's portable SQL from here
from crmkit.plugin import day_key, day_number, month_number, next_day_start  # noqa: F401
from crmkit.plugin import json_number, json_text  # noqa: F401

EPOCH = dt.date(1970, 1, 1)


def day_of(moment: dt.datetime) -> int:
    """The UTC day number of an aware datetime (Python side of :func:`day_number`)."""
    return (moment.astimezone(dt.timezone.utc).date() - EPOCH).days


def month_of(moment: dt.datetime) -> int:
    """The UTC month number of an aware datetime (Python side of :func:`month_number`)."""
    utc = moment.astimezone(dt.timezone.utc)
    return utc.year * 12 + utc.month - 1


def month_label(number: int) -> str:
    """``YYYY-MM`` of a month number."""
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def units(column) -> ColumnElement:
    """A Money column as its stored integer units (ten-thousandths), for exact SQL sums."""
    return type_coerce(column, BigInteger)


def to_decimal(stored_units) -> Decimal:
    """Stored money units (int, or None) as an exact Decimal amount."""
    return (Decimal(int(stored_units or 0)) / MONEY_SCALE).quantize(Decimal("0.0001"))


class MoneyValue(TypeDecorator):
    """Integer money units compared with amounts from conditions, converted by the core's one
    rule (:func:`crmkit.plugin.condition_money`: 0.1 is 0.1; more than 4 decimal places is
    refused, never rounded; the conditions are checked with it before they run)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return [self.process_bind_param(v, dialect) for v in value]
        return money_units(condition_money(value))


def money_value(units_expr) -> ColumnElement:
    """An integer-units expression that compares exactly with amounts given as numbers."""
    return type_coerce(units_expr, MoneyValue())


def last_event_id(conn) -> int:
    """The newest domain event's id (0 for none): what :func:`current_customers` compares with."""
    return conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()


def current_customers(conn, last_event: int) -> set[int]:
    """The customers neither gone nor erased, and changed by no merge since :func:`last_event_id`
    was ``last_event`` (a merged customer's history is another one now)."""
    live = set(conn.execute(select(customers.c.id).where(customers.c.erased_at.is_(None)))
               .scalars())
    merged = set(conn.execute(select(events.c.customer_id).where(
        events.c.id > last_event, events.c.type == "customer.merged")).scalars())
    return live - merged


def still_current(per_customer: dict[int, Any], current: set[int]) -> dict[int, Any]:
    """``per_customer`` without the customers not in ``current`` (:func:`current_customers`)."""
    return {customer_id: value for customer_id, value in per_customer.items()
            if customer_id in current}


def field_columns(computed: dict[str, Any], what: str, allowed: Sequence[str]):
    """The column lookup ``condition_to_sql`` takes: a field of ``computed`` is its column, a
    customer field is the customers table's; any other is a ConfigError naming ``what``
    (``"segment"``, ``"ladder"``) and the ``allowed`` fields."""
    def column_for(field: str, op: str):
        if field in computed:
            return computed[field]
        if is_customer_field(field):
            return customer_field(field, op)
        raise ConfigError(f"{what} field {field!r} is unknown (allowed: {', '.join(allowed)})")

    return column_for
