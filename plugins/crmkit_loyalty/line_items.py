"""A purchase's line items in excluded categories: the money they take off what earns points.

The items are ``payload["items"]`` in the core's line-item convention
(``crmkit.plugin.line_total_units``): an item counts when it is an object whose
``category`` is one of the excluded categories and whose line total (its
``amount``, else ``qty × unit_price − discount``) is usable; amounts are taken
at money precision (rounded half away from zero to 4 decimal places).
Anything else in ``items``, and ``items`` that is not a list, is ignored.

Worked out in Python from the batch's rows, which hold the payloads already
parsed: parsing them again in SQL (on SQLite ``json_each`` and one
``json_extract`` per field) made the earn statement markedly slower.
"""

from __future__ import annotations

from typing import Any, Iterable

from crmkit.plugin import line_total_units

LIMIT_UNITS = 10**18
"""Excluded units are clamped to ±this, so amount − excluded stays a 64-bit integer
(stored amounts are below 10^14 currency units, 10^18 money units)."""


def excluded_units(payload: Any, categories: frozenset[str]) -> int:
    """Σ of the money units of ``payload``'s items in ``categories`` (0 if none)."""
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not categories:
        return 0
    total = 0
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("category"), str) \
                and item["category"] in categories:
            units = line_total_units(item)
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
