"""Portable SQL pieces (SQLite and PostgreSQL) the analytics are built from.

Calendar arithmetic is in UTC: a *day number* is whole days since
1970-01-01, a *month number* is ``year * 12 + month - 1``.  JSON helpers read
one key of a JSON column, with the key always a bound parameter.  Each is a
``crmkit.db.PortableExpression``: one SQL template per dialect.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import BigInteger, Float, Integer, String, bindparam, type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeDecorator

from crmkit.plugin import (MONEY_SCALE, ConfigError, PortableExpression, customer_field,
                           is_customer_field)
from crmkit.plugin import month_number  # noqa: F401  (the analytics modules import it from here)

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


_SQLITE_KEY = "'$.\"' || {1} || '\"'"  # the JSON path of the bound key {1}


# _DayNumber: the date part of the stored text (UTCDateTime writes 'YYYY-MM-DD HH:MM:SS.ffffff'):
# julianday() of a whole instant rounds to milliseconds and CAST truncates toward zero
_DayNumber = PortableExpression.of(
    "DayNumber", Integer(),
    sqlite="CAST(julianday(substr({0}, 1, 10)) - 2440587.5 AS INTEGER)",
    postgresql="(CAST(({0}) AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01')")


_JSONNumber = PortableExpression.of(
    "JSONNumber", Float(),
    sqlite=(f"(CASE WHEN json_type({{0}}, {_SQLITE_KEY}) IN ('integer', 'real') "
            f"THEN json_extract({{0}}, {_SQLITE_KEY}) END)"),
    postgresql=("(CASE WHEN jsonb_typeof(({0})::jsonb -> {1}) = 'number' "
                "THEN CAST(({0})::jsonb ->> {1} AS DOUBLE PRECISION) END)"))

_JSONText = PortableExpression.of(
    "JSONText", String(),
    sqlite=(f"(CASE WHEN json_type({{0}}, {_SQLITE_KEY}) IN ('text', 'integer', 'real') "
            f"THEN CAST(json_extract({{0}}, {_SQLITE_KEY}) AS TEXT) END)"),
    postgresql=("(CASE WHEN jsonb_typeof(({0})::jsonb -> {1}) IN ('string', 'number') "
                "THEN ({0})::jsonb ->> {1} END)"))

_DayKey = PortableExpression.of(
    "DayKey", NullType(),
    sqlite="substr({0}, 1, 10)",  # the stored text's UTC date: no date arithmetic
    postgresql=_DayNumber.templates["postgresql"])

# the stored text sorts as the instant does: 'YYYY-MM-DD' of the next day is its midnight
_NextDay = PortableExpression.of(
    "NextDay", NullType(),
    sqlite="date(substr({0}, 1, 10), '+1 day')",
    postgresql=("((date_trunc('day', ({0}) AT TIME ZONE 'UTC') + INTERVAL '1 day')"
                " AT TIME ZONE 'UTC')"))


def day_number(column) -> ColumnElement:
    """SQL: the UTC day number (integer) of a timestamp column."""
    return _DayNumber(column)


def day_key(column) -> ColumnElement:
    """SQL: a value equal for exactly the instants of one UTC day (cheaper than
    :func:`day_number` where only equality matters, as in ``COUNT(DISTINCT …)``)."""
    return _DayKey(column)


def next_day_start(column) -> ColumnElement:
    """SQL: midnight UTC after the instant in ``column``, comparable with timestamp columns."""
    return _NextDay(column)


def json_number(column, key: str) -> ColumnElement:
    """SQL: ``column[key]`` when it is a JSON number, else NULL (text never breaks a query)."""
    return _JSONNumber(column, bindparam(None, key, type_=String(), unique=True))


def json_text(column, key: str) -> ColumnElement:
    """SQL: ``column[key]`` as text when it is a JSON string or number, else NULL."""
    return _JSONText(column, bindparam(None, key, type_=String(), unique=True))


class MoneyValue(TypeDecorator):
    """Integer money units compared with numbers from conditions (floats read as written: 0.1 is 0.1)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return [self.process_bind_param(v, dialect) for v in value]
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
            raise TypeError(f"{value!r} is not an amount")
        return int((Decimal(str(value)) * MONEY_SCALE).to_integral_value())


def money_value(units_expr) -> ColumnElement:
    """An integer-units expression that compares exactly with amounts given as numbers."""
    return type_coerce(units_expr, MoneyValue())


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
