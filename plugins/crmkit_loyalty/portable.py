"""SQL expressions the set-based react step needs, compiled for SQLite and PostgreSQL alike.

Calendar-month and day arithmetic on stored UTC timestamps (the same rules as
:func:`crmkit_loyalty.settings.add_months`: the day is clamped to the month's
last day), the calendar-mode expiry date, and integer pairs computed in Python
handed to a statement as one parameter.  On SQLite timestamps are the text ``UTCDateTime`` stores
(``YYYY-MM-DD HH:MM:SS.ffffff``), so date parts are rebuilt as text and the
time of day is kept verbatim.
"""

from __future__ import annotations

import json

from sqlalchemy import BigInteger, literal_column, text
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from crmkit.plugin import PortableExpression, UTCDateTime


# SQLite overflows a short month into the next (Feb 29 + 12 months = Mar 1):
# when the day changed, the month's last day is the day before the result's month.
# Days before the 29th exist in every month (the common, cheap case).  Only the date
# part goes through SQLite's date functions: they round to milliseconds, which would
# carry 23:59:59.9995 and later into the next day.
_AddMonths = PortableExpression.of(
    "AddMonths", UTCDateTime(),
    sqlite="(CASE WHEN substr({0}, 9, 2) < '29'"
           " THEN date(substr({0}, 1, 10), {1} || ' months')"
           " WHEN strftime('%d', substr({0}, 1, 10), {1} || ' months') = substr({0}, 9, 2)"
           " THEN date(substr({0}, 1, 10), {1} || ' months')"
           " ELSE date(substr({0}, 1, 10), {1} || ' months', 'start of month', '-1 day')"
           " END || substr({0}, 11))",
    postgresql="((({0}) AT TIME ZONE 'UTC' + interval '1 month' * {1}) AT TIME ZONE 'UTC')")


_AddDays = PortableExpression.of(
    "AddDays", UTCDateTime(),
    sqlite="(date(substr({0}, 1, 10), {1} || ' days') || substr({0}, 11))",
    postgresql="((({0}) AT TIME ZONE 'UTC' + interval '1 day' * {1}) AT TIME ZONE 'UTC')")


_SecondNewYear = PortableExpression.of(
    "SecondNewYear", UTCDateTime(),
    sqlite="printf('%04d-01-01 00:00:00.000000', CAST(substr({0}, 1, 4) AS INTEGER) + 2)",
    postgresql="((date_trunc('year', ({0}) AT TIME ZONE 'UTC') + interval '2 years')"
               " AT TIME ZONE 'UTC')")


_AtLeastZero = PortableExpression.of("AtLeastZero", BigInteger(), sqlite="max({0}, 0)",
                                      postgresql="GREATEST({0}, 0)")


def _int(value: int) -> ColumnElement:
    """An integer constant rendered inline (it is part of the statement's cache key)."""
    return literal_column(str(int(value)))


def add_months(moment, months: int) -> ColumnElement:
    """SQL: ``moment`` plus ``months`` calendar months, the day clamped to the month's end."""
    return _AddMonths(moment, _int(months))


def add_days(moment, days: int) -> ColumnElement:
    """SQL: ``moment`` plus ``days`` days (UTC, so always 24 hours each)."""
    return moment if days == 0 else _AddDays(moment, _int(days))


def second_new_year(moment) -> ColumnElement:
    """SQL: 1 January 00:00 UTC of the year after the year after ``moment`` (calendar expiry)."""
    return _SecondNewYear(moment)


def at_least_zero(value) -> ColumnElement:
    """SQL: ``value``, or 0 when it is negative (evaluated once)."""
    return _AtLeastZero(value)


def integer_pairs(name: str, pairs: dict[int, int], dialect: str) -> CTE:
    """A CTE ``name(key, value)`` of the integer ``pairs``, sent as one JSON parameter.

    Materialised, so that joining it on ``key`` builds one lookup instead of
    reading the JSON again for every row.
    """
    source = {"sqlite": "SELECT CAST(key AS INTEGER) AS key, value FROM json_each(:pairs)",
              "postgresql": "SELECT CAST(key AS BIGINT) AS key, CAST(value AS BIGINT) AS value"
                            " FROM jsonb_each_text(CAST(:pairs AS JSONB))"}[dialect]
    return (text(source).bindparams(pairs=json.dumps(pairs))
            .columns(key=BigInteger(), value=BigInteger()).cte(name).prefix_with("MATERIALIZED"))
