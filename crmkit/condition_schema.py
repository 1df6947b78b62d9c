"""The JSON Schema of a condition (:mod:`crmkit.conditions`), apart from the language itself
so that reading a plugin's configuration schema imports nothing heavy (``crmkit plugins
list`` reads them without importing SQLAlchemy)."""

from __future__ import annotations

import copy
from typing import Any

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "exists")

SCHEMA: dict[str, Any] = {
    "$id": "crmkit:condition",
    "oneOf": [
        {
            "type": "object",
            "required": ["field", "op"],
            "additionalProperties": False,
            "properties": {
                "field": {"type": "string", "minLength": 1},
                "op": {"enum": list(OPS)},
                "value": {},
            },
        },
        {"type": "object", "required": ["all"], "additionalProperties": False,
         "properties": {"all": {"type": "array", "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "required": ["any"], "additionalProperties": False,
         "properties": {"any": {"type": "array", "items": {"$ref": "#/$defs/condition"}}}},
        {"type": "object", "required": ["not"], "additionalProperties": False,
         "properties": {"not": {"$ref": "#/$defs/condition"}}},
    ],
}
"""JSON Schema of a condition; put it under ``$defs/condition`` of a config schema."""


def with_condition_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` with the condition schema added as ``$defs/condition``."""
    result = copy.deepcopy(schema)
    definition = copy.deepcopy(SCHEMA)
    definition.pop("$id")
    result.setdefault("$defs", {})["condition"] = definition
    return result


__all__ = ["OPS", "SCHEMA", "with_condition_schema"]
