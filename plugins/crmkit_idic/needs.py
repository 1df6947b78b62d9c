"""Needs groups: configured conditions on customer fields, compiled to one SQL CASE.

Fields are the core's customer fields (:mod:`crmkit.condition_sql`):
``external_id name email phone type preferred_channel lifecycle_stage``,
``tags`` (``contains`` / ``exists``) and ``attributes.KEY`` (dotted for nested
keys; compared by JSON type: a value of another type does not match).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, literal, null

from crmkit.plugin import CUSTOMER_FIELDS, ConfigError, check_condition, customer_condition

FIELDS = set(CUSTOMER_FIELDS)


def check(groups: list[dict[str, Any]], pointer: str = "/needs_groups") -> None:
    """Raise ConfigError (with the JSON pointer) for a malformed or uncompilable needs group."""
    seen: set[str] = set()
    for index, group in enumerate(groups):
        where = f"{pointer}/{index}"
        if group["name"] in seen:
            raise ConfigError(f"{where}/name: {group['name']!r} is used twice")
        seen.add(group["name"])
        check_condition(group["condition"], FIELDS, f"{where}/condition")
        try:
            customer_condition(group["condition"])
        except ConfigError as exc:
            raise ConfigError(f"{where}/condition: {exc}") from None


def needs_case(groups: list[dict[str, Any]]):
    """SQL expression: the name of the first needs group whose condition holds, else NULL."""
    if not groups:
        return null()
    whens = [(customer_condition(g["condition"]), literal(g["name"])) for g in groups]
    return case(*whens, else_=null())
