"""SQL expressions the set-based react step needs, compiled for SQLite and PostgreSQL alike.

Calendar-month and day arithmetic on stored UTC timestamps (the same rules as
:func:`crmkit_loyalty.settings.add_months`: the day is clamped to the month's
last day), the calendar-mode expiry date, and the sum of a purchase's line
items in excluded categories in exact money units (``MONEY_SCALE`` per
currency unit).  On SQLite timestamps are the text ``UTCDateTime`` stores
(``YYYY-MM-DD HH:MM:SS.ffffff``), so date parts are rebuilt as text and the
time of day is kept verbatim.
"""

from __future__ import annotations

import json
from typing import Iterable

from sqlalchemy import BigInteger, bindparam, func, literal_column, or_, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from crmkit.db import PortableExpression
from crmkit.types import MONEY_SCALE, UTCDateTime


class _AddMonths(PortableExpression):
    inherit_cache = True
    type = UTCDateTime()
    # SQLite overflows a short month into the next (Feb 29 + 12 months = Mar 1):
    # when the day changed, the month's last day is the day before the result's month.
    # Days before the 29th exist in every month (the common, cheap case).  Only the date
    # part goes through SQLite's date functions: they round to milliseconds, which would
    # carry 23:59:59.9995 and later into the next day.
    templates = {
        "sqlite": "(CASE WHEN substr({0}, 9, 2) < '29'"
                  " THEN date(substr({0}, 1, 10), {1} || ' months')"
                  " WHEN strftime('%d', substr({0}, 1, 10), {1} || ' months') = substr({0}, 9, 2)"
                  " THEN date(substr({0}, 1, 10), {1} || ' months')"
                  " ELSE date(substr({0}, 1, 10), {1} || ' months', 'start of month', '-1 day')"
                  " END || substr({0}, 11))",
        "postgresql": "((({0}) AT TIME ZONE 'UTC' + interval '1 month' * {1}) AT TIME ZONE 'UTC')",
    }


class _AddDays(PortableExpression):
    inherit_cache = True
    type = UTCDateTime()
    templates = {
        "sqlite": "(date(substr({0}, 1, 10), {1} || ' days') || substr({0}, 11))",
        "postgresql": "((({0}) AT TIME ZONE 'UTC' + interval '1 day' * {1}) AT TIME ZONE 'UTC')",
    }


class _SecondNewYear(PortableExpression):
    inherit_cache = True
    type = UTCDateTime()
    templates = {
        "sqlite": "printf('%04d-01-01 00:00:00.000000', CAST(substr({0}, 1, 4) AS INTEGER) + 2)",
        "postgresql": "((date_trunc('year', ({0}) AT TIME ZONE 'UTC') + interval '2 years')"
                      " AT TIME ZONE 'UTC')",
    }


class _AtLeastZero(PortableExpression):
    inherit_cache = True
    type = BigInteger()
    templates = {"sqlite": "max({0}, 0)", "postgresql": "GREATEST({0}, 0)"}


_AMOUNT_TEXT = "^ *[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+) *$"


class _ExcludedUnits(FunctionElement):
    """Operands: the payload column, the excluded categories (a list of bound parameters),
    and a condition true when the payload's text mentions one of them (used on SQLite)."""

    inherit_cache = True
    type = BigInteger()


def _render_excluded(element, compiler, **kw) -> str:
    payload_clause, categories, mentioned = element.clauses
    payload = compiler.process(payload_clause, **kw)
    if compiler.dialect.name == "postgresql":
        names = compiler.process(categories, **kw)
        amount = "(e.value ->> 'amount')"
        return (
            "COALESCE((SELECT CAST(SUM(CASE WHEN jsonb_typeof(e.value -> 'amount') = 'number'"
            f" OR (jsonb_typeof(e.value -> 'amount') = 'string' AND {amount} ~ '{_AMOUNT_TEXT}')"
            f" THEN ROUND(CAST({amount} AS NUMERIC) * {MONEY_SCALE}) END) AS BIGINT)"
            f" FROM jsonb_array_elements(CASE WHEN jsonb_typeof({payload} -> 'items') = 'array'"
            f" THEN {payload} -> 'items' ELSE CAST('[]' AS JSONB) END) AS e(value)"
            f" WHERE jsonb_typeof(e.value) = 'object' AND (e.value ->> 'category') IN {names}"
            "), 0)")
    # Parsing JSON is the expensive part: a payload whose text mentions none of the
    # categories has no excluded item.
    mentions = compiler.process(mentioned, **kw)
    names = compiler.process(categories, **kw)
    text = "trim(json_extract(e.value, '$.amount'))"
    unsigned = (f"(CASE WHEN substr({text}, 1, 1) IN ('+', '-') THEN substr({text}, 2)"
                f" ELSE {text} END)")
    return (
        f"(CASE WHEN {payload} IS NULL OR NOT ({mentions}) THEN 0 ELSE"
        f" COALESCE((SELECT SUM(CAST(ROUND(CAST(json_extract(e.value, '$.amount') AS REAL)"
        f" * {MONEY_SCALE}) AS INTEGER))"
        f" FROM json_each({payload}, '$.items') AS e"
        f" WHERE json_type({payload}, '$.items') = 'array' AND e.type = 'object'"
        f" AND json_extract(e.value, '$.category') IN {names}"
        " AND (json_type(e.value, '$.amount') IN ('integer', 'real')"
        f" OR (json_type(e.value, '$.amount') = 'text' AND {unsigned} GLOB '*[0-9]*'"
        f" AND {unsigned} NOT GLOB '*[^0-9.]*' AND {unsigned} NOT GLOB '*.*.*'))), 0) END)")


compiles(_ExcludedUnits, "sqlite")(_render_excluded)
compiles(_ExcludedUnits, "postgresql")(_render_excluded)


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


def excluded_units(payload, categories: Iterable[str]) -> ColumnElement:
    """SQL: Σ amount × ``MONEY_SCALE`` of ``payload.items`` in ``categories`` (0 if none).

    An item counts when it is an object whose ``category`` is one of
    ``categories`` and whose ``amount`` is a JSON number or a decimal text
    (``"4.99"``, ``"-1"``, ``" 5 "``); amounts are taken at money precision
    (rounded to 4 decimal places).  Anything else in ``items`` is ignored.
    On SQLite, where the payload is JSON text, items are only parsed when that
    text contains a category name as written raw or as ``json.dumps`` spells it.
    """
    names = sorted(categories)
    spellings = sorted({form for name in names for form in (name, json.dumps(name)[1:-1])})
    mentioned = or_(*[func.instr(payload, bindparam(None, form, unique=True)) > 0
                      for form in spellings])
    return _ExcludedUnits(payload, tuple_(*[bindparam(None, name, unique=True)
                                                for name in names]), mentioned)
