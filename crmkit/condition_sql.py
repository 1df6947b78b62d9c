"""Condition leaves as portable SQL: plain columns, JSON paths and customer fields.

:func:`crmkit.conditions.to_sql` compiles the structure of a condition; this
module says what SQL a *field* is, the same way on SQLite and PostgreSQL, for
the fields every plugin shares.  JSON values (customer ``attributes``, an
interaction's ``payload``) are compared by their JSON type, as
:func:`crmkit.conditions.compare` does in Python: a value of another type does
not match, and never makes the database raise (no failing casts on data).
Every value and every JSON key is a bound parameter.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, and_, bindparam, case, false, not_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from . import conditions
from .db import json_array_contains
from .errors import ConfigError
from .tables import customers

CUSTOMER_COLUMNS = ("external_id", "type", "name", "email", "phone", "preferred_channel",
                    "lifecycle_stage")
"""Customer columns a condition may name directly."""

CUSTOMER_FIELDS = (*CUSTOMER_COLUMNS, "tags", "attributes.*")
"""Every customer field (for :func:`crmkit.conditions.check`): columns, tags, attributes.KEY."""


class _JsonAt(ColumnElement):
    """One JSON path of a JSON column, read as ``what`` (type, text, number, boolean, json)."""

    # the statement cache keys it by column, keys and what (the compiled path depends on
    # nothing else), so statements holding it are compiled once, not on every execution
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("keys", InternalTraversal.dp_string_list),
                           ("what", InternalTraversal.dp_string)]

    def __init__(self, column, keys: tuple[str, ...], what: str):
        self.column, self.keys, self.what = column, keys, what
        self.type = Numeric() if what == "number" else String()


_SQLITE_TYPES = ("CASE json_type({c}, {p}) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
                 "WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' WHEN 'false' THEN "
                 "'boolean' ELSE json_type({c}, {p}) END")
_SQLITE = {"type": _SQLITE_TYPES, "text": "json_extract({c}, {p})",
           "number": "json_extract({c}, {p})", "boolean": "json_type({c}, {p})",
           "json": "json_extract({c}, {p})"}
_POSTGRESQL = {"type": "jsonb_typeof(({c})::jsonb #> {p})", "text": "(({c})::jsonb #>> {p})",
               "number": "CAST((({c})::jsonb #>> {p}) AS NUMERIC)",
               "boolean": "(({c})::jsonb #>> {p})", "json": "(({c})::jsonb #> {p})"}


@compiles(_JsonAt, "sqlite")
def _sqlite(element, compiler, **kw) -> str:
    path = "$" + "".join('."' + k + '"' for k in element.keys)
    return _SQLITE[element.what].format(c=compiler.process(element.column, **kw),
                                        p=compiler.process(bindparam(None, path, String), **kw))


@compiles(_JsonAt, "postgresql")
def _postgresql(element, compiler, **kw) -> str:
    keys = ",".join('"' + k.replace("\\", "\\\\") + '"' for k in element.keys)
    path = compiler.process(bindparam(None, "{" + keys + "}", String), **kw)
    return _POSTGRESQL[element.what].format(c=compiler.process(element.column, **kw),
                                            p=f"CAST({path} AS TEXT[])")


def _when(condition, value):
    return case((condition, value), else_=None)


class JsonPath:
    """A path inside a JSON column, with typed SQL accessors on both dialects."""

    def __init__(self, column, keys: list[str] | tuple[str, ...]):
        bad = [k for k in keys if not k or '"' in k]
        if bad:
            raise ConfigError(f"JSON key {bad[0]!r}: a key must be non-empty and without '\"'")
        self.column = column
        self.keys = tuple(keys)

    def _at(self, what: str):
        return _JsonAt(self.column, self.keys, what)

    def json_type(self):
        """The JSON type name: string, number, boolean, array, object, null (NULL if absent)."""
        return self._at("type")

    def text(self):
        """The value when it is a JSON string, else NULL."""
        return _when(self.json_type() == "string", self._at("text"))

    def number(self):
        """The value when it is a JSON number, else NULL."""
        return _when(self.json_type() == "number", self._at("number"))

    def boolean_text(self):
        """'true' / 'false' when the value is a JSON boolean, else NULL."""
        return _when(self.json_type() == "boolean", self._at("boolean"))

    def array_contains(self, value: str):
        """The value is a JSON array holding the text ``value``."""
        # CASE, not AND: SQLite's json_each must never see a non-array value
        return _when(self.json_type() == "array", json_array_contains(self._at("json"), value))

    def test(self, op: str, value: Any):
        """SQL for ``op value`` on this path, typed by the value (never raises on data)."""
        if op == "exists":
            return and_(self.json_type().is_not(None), self.json_type() != "null")
        if op == "contains":
            return or_(self.array_contains(str(value)),
                       self.text().contains(str(value), autoescape=True))
        if op == "in":
            return or_(false(), *(self.test("eq", item) for item in value))
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
        return column_test(expr, op, value)


def column_test(column, op: str, value: Any):
    """SQL for ``op value`` on an ordinary column (the core's own leaf rules)."""
    return conditions.to_sql({"field": "x", "op": op, "value": value}, lambda f, o: column)


def customer_test(path: list[str] | tuple[str, ...], op: str, value: Any, table=customers):
    """SQL for a customer field (``path`` split at dots, without any ``customer.`` prefix).

    ``type``, ``name``, ``email``… (:data:`CUSTOMER_COLUMNS`), ``tags``
    (``contains`` / ``exists``) and ``attributes.KEY[.SUBKEY…]`` (typed JSON).
    """
    field = ".".join(path)
    if path[0] == "attributes" and len(path) > 1:
        return JsonPath(table.c.attributes, path[1:]).test(op, value)
    if list(path) == ["tags"]:
        if op == "contains":
            return json_array_contains(table.c.tags, str(value))
        if op == "exists":
            return table.c.tags.is_not(None)
        raise ConfigError(f"field {field!r}: tags support only the contains and exists operators")
    if len(path) == 1 and path[0] in CUSTOMER_COLUMNS:
        return column_test(table.c[path[0]], op, value)
    raise ConfigError(f"unknown customer field {field!r} (allowed: {', '.join(CUSTOMER_FIELDS)})")


def is_customer_field(field: str) -> bool:
    """Whether ``field`` names a customer field (a column, ``tags`` or ``attributes.KEY``)."""
    return (field in CUSTOMER_COLUMNS or field == "tags"
            or (field.startswith("attributes.") and len(field) > len("attributes.")))


def customer_field(field: str, op: str, table=customers):
    """A ``column_for`` result for :func:`crmkit.conditions.to_sql`: value → SQL test (NULL is false)."""
    from sqlalchemy import func

    return lambda value: func.coalesce(customer_test(field.split("."), op, value, table), false())


def customer_condition(condition: dict[str, Any], table=customers):
    """A whole condition over customer fields as one SQL boolean (NULL tests count as false)."""
    return conditions.to_sql(condition, lambda field, op: customer_field(field, op, table))


__all__ = ["CUSTOMER_COLUMNS", "CUSTOMER_FIELDS", "JsonPath", "column_test", "customer_condition",
           "customer_field", "customer_test", "is_customer_field"]
