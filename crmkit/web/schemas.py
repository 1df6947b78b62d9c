"""Helpers for declaring and answering endpoints: closed object schemas, optional timestamps,
integer record ids in paths.  Every plugin's routes use them (through ``crmkit.plugin``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..clock import parse_timestamp
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


def record_id(text: str, what: str) -> int:
    """The integer record id in a path parameter; NotFound ("no WHAT with id 'TEXT'") unless
    ``text`` is one (so a malformed id answers like an unknown one: 404)."""
    if not text.isdigit() or len(text) > 18:
        raise NotFound(f"no {what} with id {text!r}")
    return int(text)


__all__ = ["TEXT", "OPTIONAL_TEXT", "INSTANT", "OPTIONAL_INSTANT", "INTEGER", "NUMBER",
           "OPTIONAL_NUMBER", "DECIMAL", "AS_OF_INSTANT", "closed_object", "timestamp_or_none",
           "record_id"]
