"""SQL expressions the set-based react step needs, compiled for SQLite and PostgreSQL alike.

The calendar-mode expiry date, and integer pairs computed in Python handed to a
statement as one parameter.  Day and calendar-month arithmetic on stored UTC
timestamps is the core's (``add_days``, ``add_months``: the same rules as
:func:`crmkit_loyalty.settings.add_months`, the day clamped to the month's last day).
"""

from __future__ import annotations

import json

from sqlalchemy import BigInteger, text
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from crmkit.plugin import PortableExpression, UTCDateTime


_SecondNewYear = PortableExpression.of(
    "SecondNewYear", UTCDateTime(),
    sqlite="printf('%04d-01-01 00:00:00.000000', CAST(substr({0}, 1, 4) AS INTEGER) + 2)",
    postgresql="((date_trunc('year', ({0}) AT TIME ZONE 'UTC') + interval '2 years')"
               " AT TIME ZONE 'UTC')")


def second_new_year(moment) -> ColumnElement:
    """SQL: 1 January 00:00 UTC of the year after the year after ``moment`` (calendar expiry)."""
    return _SecondNewYear(moment)


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
