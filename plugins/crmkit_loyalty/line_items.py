"""A purchase's line items in excluded categories: the money they take off what earns points.

The items are ``payload["items"]``: an item counts when it is an object whose
``category`` is one of the excluded categories and whose ``amount`` is a JSON
number or a decimal text (``"4.99"``, ``"-1"``, ``" 5 "``); amounts are taken
at money precision (rounded half away from zero to 4 decimal places).
Anything else in ``items``, and ``items`` that is not a list, is ignored.

Worked out in Python from the batch's rows, which hold the payloads already
parsed: parsing them again in SQL (on SQLite ``json_each`` and one
``json_extract`` per field) made the earn statement markedly slower.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from crmkit.plugin import MONEY_SCALE

AMOUNT_TEXT = re.compile(r" *[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+) *")
"""A decimal amount written as text: optional sign, digits with at most one point, spaces around."""

LIMIT_UNITS = 10**18
"""Excluded units are clamped to ±this, so amount − excluded stays a 64-bit integer
(stored amounts are below 10^14 currency units, 10^18 money units)."""


def amount_units(amount: Any) -> int | None:
    """An item's ``amount`` in money units, or None when it is not a usable amount."""
    if isinstance(amount, str):
        return _text_units(amount)
    if isinstance(amount, bool):
        return None
    if isinstance(amount, int):
        return amount * MONEY_SCALE
    if isinstance(amount, float) and math.isfinite(amount):
        return _units(repr(amount))
    return None


@functools.lru_cache(maxsize=4096)
def _text_units(text: str) -> int | None:
    """``amount_units`` of a text amount (the same few texts recur: delivery, tax lines)."""
    return _units(text.strip(" ")) if AMOUNT_TEXT.fullmatch(text) else None


def _units(decimal_text: str) -> int:
    return int((Decimal(decimal_text) * MONEY_SCALE).to_integral_value(ROUND_HALF_UP))


def excluded_units(payload: Any, categories: frozenset[str]) -> int:
    """Σ of the money units of ``payload``'s items in ``categories`` (0 if none)."""
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not categories:
        return 0
    total = 0
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("category"), str) \
                and item["category"] in categories:
            units = amount_units(item.get("amount"))
            if units is not None:
                total += units
    return max(-LIMIT_UNITS, min(LIMIT_UNITS, total))


def excluded_by_interaction(rows: Iterable[dict[str, Any]], categories: frozenset[str]
                            ) -> dict[int, int]:
    """Per purchase among interaction ``rows`` (with ids) its excluded units, where not 0."""
    if not categories:
        return {}
    found = {}
    for row in rows:
        payload = row["payload"]
        if payload and row["kind"] == "purchase":
            units = excluded_units(payload, categories)
            if units:
                found[row["id"]] = units
    return found
