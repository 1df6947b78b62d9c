"""Customer fields usable in segment and ladder conditions, as SQL over ``customers``.

``type``, ``external_id``, ``preferred_channel``, ``lifecycle_stage`` (the
customer record's own column), ``tags`` (``contains`` / ``exists``) and
``attributes.KEY`` (compared as JSON values: numbers with numbers, text with
text; ``contains`` is a substring test on text).
"""

from __future__ import annotations

from crmkit.db import json_array_contains
from crmkit.errors import ConfigError
from crmkit.tables import customers as C

from .sql import json_text, json_value

COLUMNS = ("type", "external_id", "preferred_channel", "lifecycle_stage")
NAMES = (*COLUMNS, "tags", "attributes.*")


def known(field: str) -> bool:
    """Whether ``field`` is a customer field."""
    return field in COLUMNS or field == "tags" or (field.startswith("attributes.") and len(field) > 11)


def column_for(field: str, op: str):
    """The SQL expression (or test-building callable) of a customer field for ``op``."""
    if field in COLUMNS:
        return C.c[field]
    if field == "tags":
        if op == "contains":
            return lambda value: json_array_contains(C.c.tags, str(value))
        if op == "exists":
            return C.c.tags
        raise ConfigError(f"field 'tags' takes op contains or exists, not {op!r}")
    if field.startswith("attributes.") and len(field) > 11:
        key = field[len("attributes."):]
        if op == "contains":
            return lambda value: json_text(C.c.attributes, key).contains(str(value), autoescape=True)
        return json_value(C.c.attributes, key)
    raise ConfigError(f"unknown customer field {field!r}")
