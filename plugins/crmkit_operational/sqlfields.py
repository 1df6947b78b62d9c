"""Compile conditions on customers, leads and interactions to SQL that runs on SQLite and PostgreSQL.

Used by set-based work (scoring fit rules, territories, interaction-triggered
automation rules).  The condition language itself is :mod:`crmkit.conditions`;
this module only says what SQL each field is.  JSON fields (customer
attributes, interaction payload) are compared by their JSON type, so a text
attribute never breaks a numeric comparison: a value of another type simply
does not match, exactly as :func:`crmkit.conditions.compare` behaves in Python.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import false, func

from crmkit.plugin import (
    ConfigError, JsonPath, column_test, condition_money, condition_to_sql, customer_test,
    interactions,
)

from .tables import leads

LEAD_COLUMNS = ("stage", "score", "owner")
INTERACTION_COLUMNS = ("kind", "channel", "direction", "amount", "currency")


class FieldSQL:
    """Maps condition fields to SQL for one statement.

    ``customer.*`` reads ``customers`` (and ``customer.attributes.*`` its JSON),
    ``lead.*`` an outer-joined ``operational_leads`` row, and ``payload.*`` the
    interaction being matched (its columns, ``payload.payload.*`` its JSON).
    """

    def __init__(self, lead_table=leads, interaction_table=interactions):
        self.lead_table = lead_table
        self.interaction_table = interaction_table
        self.reads: set[str] = set()
        """Which of ``customer``, ``lead`` and ``payload`` the compiled conditions read."""

    def expression(self, field: str, op: str, value: Any):
        """SQL test for one ``{field, op, value}``; ConfigError for a field it cannot reach."""
        parts = field.split(".")
        head, rest = parts[0], parts[1:]
        self.reads.add(head)
        if head == "customer" and rest:
            return customer_test(rest, op, value)
        if head == "lead" and len(rest) == 1 and rest[0] in LEAD_COLUMNS:
            value = _number(value) if rest[0] == "score" else value
            return column_test(self.lead_table.c[rest[0]], op, value)
        if head == "payload" and rest and self.interaction_table is not None:
            return self._interaction(rest, op, value, field)
        raise ConfigError(f"unknown field {field!r}")

    def _interaction(self, rest, op, value, field):
        table = self.interaction_table
        if rest[0] == "payload" and len(rest) > 1:
            return JsonPath(table.c.payload, rest[1:]).test(op, value)
        if rest == ["interaction_id"]:
            return column_test(table.c.id, op, value)
        if len(rest) == 1 and rest[0] in INTERACTION_COLUMNS:
            if rest[0] == "amount" and value is not None:
                value = ([condition_money(v) for v in value] if isinstance(value, list)
                         else condition_money(value))
            return column_test(table.c[rest[0]], op, value)
        raise ConfigError(f"unknown field {field!r}")

    def compile(self, condition: dict[str, Any]):
        """The whole condition as one SQL boolean (every value a bound parameter)."""
        return condition_to_sql(condition, lambda field, op: (
            lambda value: func.coalesce(self.expression(field, op, value), false())))


def _number(value: Any) -> Any:
    if isinstance(value, list):
        return [_number(v) for v in value]
    return float(value) if isinstance(value, Decimal) else value
