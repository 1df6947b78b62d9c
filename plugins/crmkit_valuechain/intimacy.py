"""Stage 2, customer intimacy: how complete the SSCs' profiles are.

Completeness of one SSC = present profile fields / configured profile fields
(a text field is present when non-empty; ``tags`` when the list is not empty;
``attributes.KEY`` when the attribute is set).  Stage 2's measure is the mean
over all SSCs, exact: the present fields are counted in SQL.
"""

from __future__ import annotations

from fractions import Fraction

import attrs
from sqlalchemy import String, and_, case, cast, func, select

from crmkit.plugin import customers

from .settings import Settings
from .tables import ssc


def present(field: str):
    """SQL: 1 when the customer's profile field is present, else 0."""
    if field == "organisation":
        test = customers.c.organisation_id.is_not(None)
    elif field == "tags":
        text = cast(customers.c.tags, String)
        test = and_(text.is_not(None), text != "[]")
    elif field.startswith("attributes."):
        path = tuple(field.split(".")[1:])
        value = customers.c.attributes[path if len(path) > 1 else path[0]].as_string()
        test = and_(value.is_not(None), value != "")
    else:
        column = customers.c[field]
        test = and_(column.is_not(None), func.trim(column) != "")
    return case((test, 1), else_=0)


def present_count(fields: tuple[str, ...]):
    """SQL: how many of ``fields`` are present for a customer."""
    total = present(fields[0])
    for field in fields[1:]:
        total = total + present(field)
    return total


@attrs.frozen
class Intimacy:
    """The SSCs' mean profile completeness, and the least complete SSCs (exact ratios)."""

    sscs: int
    completeness: Fraction
    weakest: list[tuple[str, Fraction]]


def measure(conn, settings: Settings) -> Intimacy:
    """Profile completeness of the SSCs (mean, and the five least complete)."""
    fields = len(settings.profile_fields)
    count_present = present_count(settings.profile_fields).label("present")
    per = (select(customers.c.id, customers.c.external_id, count_present)
           .join(ssc, ssc.c.customer_id == customers.c.id).subquery())
    count, total = conn.execute(select(func.count(), func.sum(per.c.present))).one()
    weakest = conn.execute(select(per.c.external_id, per.c.present)
                           .order_by(per.c.present, per.c.id).limit(5)).all()
    return Intimacy(int(count), Fraction(int(total), int(count) * fields) if count else Fraction(0),
                    [(ext, Fraction(int(k), fields)) for ext, k in weakest])
