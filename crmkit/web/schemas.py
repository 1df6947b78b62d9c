"""Helpers for declaring and answering endpoints: closed object schemas, optional timestamps,
integer record ids in paths.  Every plugin's routes use them (through ``crmkit.plugin``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..clock import parse_timestamp
from ..config import INTEGER_RANGE
from ..errors import NotFound

TEXT = {"type": "string"}
"""JSON Schema: a string."""
OPTIONAL_TEXT = {"type": ["string", "null"]}
"""JSON Schema: a string or null."""
INSTANT = {"type": "string", "format": "date-time"}
"""JSON Schema: an ISO 8601 timestamp."""
OPTIONAL_INSTANT = {"type": ["string", "null"], "format": "date-time"}
"""JSON Schema: an ISO 8601 timestamp or null."""
INTEGER = {"type": "integer"}
"""JSON Schema: an integer."""
NUMBER = {"type": "number"}
"""JSON Schema: a number."""
OPTIONAL_NUMBER = {"type": ["number", "null"]}
"""JSON Schema: a number or null."""
DECIMAL = {"type": "string", "description": "An exact decimal number."}
"""JSON Schema: an exact decimal number written as a string (money, ratios)."""
AS_OF_INSTANT = {**INSTANT, "description": "Compute as of this instant (default: now)."}
"""JSON Schema: the ``as_of`` of a report or computation (a timestamp; the default is now)."""


def closed_object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON Schema of an object with ``properties`` (optional unless ``required``) and no
    other key: an unknown key in a body or query is refused with its JSON pointer."""
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


def timestamp_or_none(text: str | None, field: str) -> dt.datetime | None:
    """``parse_timestamp(text, field)`` (ISO 8601, a bare date is midnight UTC), None for None:
    for an optional ``as_of``, ``since`` or date in a query or body."""
    return None if text is None else parse_timestamp(text, field)


INTEGER_MIN, INTEGER_MAX = INTEGER_RANGE
"""The range of the databases' integers (64 bits: SQLite's INTEGER, PostgreSQL's BIGINT), the
one every schema's ``"type": "integer"`` accepts too."""
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,19}")


def is_database_integer(value: Any) -> bool:
    """Whether ``value`` is an int (not a bool) the database can store and compare with."""
    return type(value) is int and INTEGER_MIN <= value <= INTEGER_MAX


def parse_integer(text: str) -> int | None:
    """The integer ``text`` writes in ASCII digits (``-`` before a negative one) within the
    databases' range (:data:`INTEGER_MIN` to :data:`INTEGER_MAX`); None for anything else,
    such as other scripts' digits, ``²``, ``+``, ``_`` or spaces."""
    if not _INTEGER_TEXT.fullmatch(text):
        return None
    value = int(text)
    return value if is_database_integer(value) else None


def record_id(text: str, what: str) -> int:
    """The integer record id in a path parameter (ASCII digits, at most :data:`INTEGER_MAX`);
    NotFound ("no WHAT with id 'TEXT'") unless ``text`` is one (so a malformed id answers like
    an unknown one: 404)."""
    value = parse_integer(text)
    if value is None or value < 0:
        raise NotFound(f"no {what} with id {text!r}")
    return value


__all__ = ["TEXT", "OPTIONAL_TEXT", "INSTANT", "OPTIONAL_INSTANT", "INTEGER", "NUMBER",
           "OPTIONAL_NUMBER", "DECIMAL", "AS_OF_INSTANT", "closed_object", "timestamp_or_none",
           "record_id", "parse_integer", "is_database_integer", "INTEGER_MIN", "INTEGER_MAX"]
