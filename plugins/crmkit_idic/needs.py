"""Needs groups: configured conditions on customer fields, compiled to one SQL CASE.

Fields: ``external_id name email phone type preferred_channel lifecycle_stage``,
``tags`` (``contains`` / ``exists``) and ``attributes.KEY`` (dotted for nested
keys; compared as a number, boolean or text according to the value given).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, literal, null

from crmkit import conditions
from crmkit.db import json_array_contains
from crmkit.errors import ConfigError
from crmkit.tables import customers

COLUMNS = ("external_id", "name", "email", "phone", "type", "preferred_channel",
           "lifecycle_stage")
FIELDS = set(COLUMNS) | {"tags", "attributes.*"}


def _attribute(path: tuple[str, ...], value: Any):
    expr = customers.c.attributes[path if len(path) > 1 else path[0]]
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return expr.as_boolean()
    if isinstance(sample, (int, float)):
        return expr.as_float()
    return expr.as_string()


def column_for(field: str, op: str):
    """The SQL expression (or value → test callable) of a customer field in a condition."""
    if field in COLUMNS:
        return customers.c[field]
    if field == "tags":
        if op == "contains":
            return lambda value: json_array_contains(customers.c.tags, str(value))
        if op == "exists":
            return customers.c.tags
        raise ConfigError(f"tags: only 'contains' and 'exists' apply to tags, not {op!r}")
    if field.startswith("attributes.") and len(field) > len("attributes."):
        path = tuple(field.split(".")[1:])

        def test(value):
            column = _attribute(path, value)
            return conditions.to_sql({"field": field, "op": op, "value": value},
                                     lambda _f, _o: column)

        return test
    raise ConfigError(f"unknown customer field {field!r} (allowed: {', '.join(sorted(FIELDS))})")


def check(groups: list[dict[str, Any]], pointer: str = "/needs_groups") -> None:
    """Raise ConfigError (with the JSON pointer) for a malformed or uncompilable needs group."""
    seen: set[str] = set()
    for index, group in enumerate(groups):
        where = f"{pointer}/{index}"
        if group["name"] in seen:
            raise ConfigError(f"{where}/name: {group['name']!r} is used twice")
        seen.add(group["name"])
        conditions.check(group["condition"], FIELDS, f"{where}/condition")
        try:
            conditions.to_sql(group["condition"], column_for)
        except ConfigError as exc:
            raise ConfigError(f"{where}/condition: {exc}") from None


def needs_case(groups: list[dict[str, Any]]):
    """SQL expression: the name of the first needs group whose condition holds, else NULL."""
    if not groups:
        return null()
    whens = [(conditions.to_sql(g["condition"], column_for), literal(g["name"])) for g in groups]
    return case(*whens, else_=null())
