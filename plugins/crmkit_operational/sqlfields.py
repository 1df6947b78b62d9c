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
from typing import Any, Callable

from sqlalchemy import and_, cast, false, func, literal, not_, or_
from sqlalchemy import Numeric, String

from crmkit import conditions
from crmkit.db import json_array_contains
from crmkit.errors import ConfigError
from crmkit.tables import customers, interactions

from .tables import leads

CUSTOMER_COLUMNS = ("external_id", "type", "name", "email", "phone", "preferred_channel",
                    "lifecycle_stage")
LEAD_COLUMNS = ("stage", "score", "owner")
INTERACTION_COLUMNS = ("kind", "channel", "direction", "amount", "currency")


class JsonPath:
    """A path inside a JSON column, with typed SQL accessors for one dialect."""

    def __init__(self, dialect: str, column, keys: list[str]):
        self.dialect = dialect
        self.column = column
        self.keys = keys

    def _sqlite_path(self):
        return literal("$" + "".join('."' + k.replace('"', '\\"') + '"' for k in self.keys),
                       String)

    def json_type(self):
        """Canonical JSON type name: string, number, boolean, array, object, null (NULL if absent)."""
        if self.dialect == "sqlite":
            raw = func.json_type(self.column, self._sqlite_path())
            return func.replace(func.replace(func.replace(func.replace(func.replace(
                raw, "integer", "number"), "real", "number"), "text", "string"),
                "true", "boolean"), "false", "boolean")
        return func.jsonb_typeof(func.jsonb_extract_path(self.column, *self._pg_keys()))

    def _pg_keys(self):
        return [literal(k, String) for k in self.keys]

    def text(self):
        """The value when it is a JSON string, else NULL."""
        if self.dialect == "sqlite":
            value = func.json_extract(self.column, self._sqlite_path())
        else:
            value = func.jsonb_extract_path_text(self.column, *self._pg_keys())
        return _when(self.json_type() == "string", value)

    def number(self):
        """The value when it is a JSON number, else NULL."""
        if self.dialect == "sqlite":
            value = func.json_extract(self.column, self._sqlite_path())
        else:
            value = cast(func.jsonb_extract_path_text(self.column, *self._pg_keys()), Numeric)
        return _when(self.json_type() == "number", value)

    def boolean_text(self):
        """'true' / 'false' when the value is a JSON boolean, else NULL."""
        if self.dialect == "sqlite":
            value = func.json_type(self.column, self._sqlite_path())
        else:
            value = func.jsonb_extract_path_text(self.column, *self._pg_keys())
        return _when(self.json_type() == "boolean", value)

    def array_contains(self, value: str):
        """The value is a JSON array holding the text ``value``."""
        if self.dialect == "sqlite":
            inner = func.json_extract(self.column, self._sqlite_path())
        else:
            inner = func.jsonb_extract_path(self.column, *self._pg_keys())
        # CASE, not AND: SQLite's json_each must never see a non-array value
        return _when(self.json_type() == "array", json_array_contains(inner, value))

    def test(self, op: str, value: Any):
        """SQL for ``op value`` on this path, typed by the value (never raises on data)."""
        if op == "exists":
            return and_(self.json_type().is_not(None), self.json_type() != "null")
        if op == "contains":
            return or_(self.array_contains(str(value)),
                       self.text().contains(str(value), autoescape=True))
        if op == "in":
            parts = [self.test("eq", item) for item in value]
            return or_(false(), *parts)
        if value is None:
            exists = self.test("exists", None)
            return not_(exists) if op == "eq" else exists if op == "ne" else false()
        if isinstance(value, bool):
            expr, value = self.boolean_text(), "true" if value else "false"
        elif isinstance(value, (int, float, Decimal)):
            expr = self.number()
        elif isinstance(value, str):
            expr = self.text()
        else:
            raise ConfigError(f"cannot compare a JSON field with {type(value).__name__} "
                              "(use text, a number or a boolean)")
        return conditions.to_sql({"field": "x", "op": op, "value": value}, lambda f, o: expr)


def _when(condition, value):
    from sqlalchemy import case

    return case((condition, value), else_=None)


def plain(column, op: str, value: Any):
    """The core's own leaf SQL for an ordinary column."""
    return conditions.to_sql({"field": "x", "op": op, "value": value}, lambda f, o: column)


class FieldSQL:
    """Maps condition fields to SQL for one statement.

    ``customer.*`` reads ``customers`` (and ``customer.attributes.*`` its JSON),
    ``lead.*`` an outer-joined ``operational_leads`` row, and ``payload.*`` the
    interaction being matched (its columns, ``payload.payload.*`` its JSON).
    """

    def __init__(self, dialect: str, lead_table=leads, interaction_table=interactions):
        self.dialect = dialect
        self.lead_table = lead_table
        self.interaction_table = interaction_table

    def expression(self, field: str, op: str, value: Any):
        """SQL test for one ``{field, op, value}``; ConfigError for a field it cannot reach."""
        parts = field.split(".")
        head, rest = parts[0], parts[1:]
        if head == "customer" and rest:
            return self._customer(rest, op, value, field)
        if head == "lead" and len(rest) == 1 and rest[0] in LEAD_COLUMNS:
            return plain(self.lead_table.c[rest[0]], op, _number(value) if rest[0] == "score" else value)
        if head == "payload" and rest and self.interaction_table is not None:
            return self._interaction(rest, op, value, field)
        raise ConfigError(f"unknown field {field!r}")

    def _customer(self, rest, op, value, field):
        if rest[0] == "attributes" and len(rest) > 1:
            return JsonPath(self.dialect, customers.c.attributes, rest[1:]).test(op, value)
        if rest == ["tags"]:
            if op == "contains":
                return json_array_contains(customers.c.tags, str(value))
            if op == "exists":
                return customers.c.tags.is_not(None)
            raise ConfigError(f"field {field!r}: tags support only the contains and exists operators")
        if len(rest) == 1 and rest[0] in CUSTOMER_COLUMNS:
            return plain(customers.c[rest[0]], op, value)
        raise ConfigError(f"unknown field {field!r}")

    def _interaction(self, rest, op, value, field):
        table = self.interaction_table
        if rest[0] == "payload" and len(rest) > 1:
            return JsonPath(self.dialect, table.c.payload, rest[1:]).test(op, value)
        if rest == ["interaction_id"]:
            return plain(table.c.id, op, value)
        if len(rest) == 1 and rest[0] in INTERACTION_COLUMNS:
            if rest[0] == "amount":
                value = [_money(v) for v in value] if isinstance(value, list) else _money(value)
            return plain(table.c[rest[0]], op, value)
        raise ConfigError(f"unknown field {field!r}")

    def compile(self, condition: dict[str, Any]):
        """The whole condition as one SQL boolean (every value a bound parameter)."""
        return conditions.to_sql(condition, lambda field, op: (
            lambda value: func.coalesce(self.expression(field, op, value), false())))


def _money(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    return value


def _number(value: Any) -> Any:
    if isinstance(value, list):
        return [_number(v) for v in value]
    return float(value) if isinstance(value, Decimal) else value
