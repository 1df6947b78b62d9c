"""A purchase's line items: the one convention every plugin reads them by.

A purchase's ``payload["items"]`` is a list of objects::

    {"sku": "TEA-1", "qty": 2, "unit_price": "4.50", "discount": "1.00",
     "amount": "8.00", "category": "drinks"}

Every key is optional for a plugin that does not need it; what each means is
fixed here.  ``qty``, ``unit_price``, ``discount`` and ``amount`` are JSON
numbers or decimal texts (``"4.99"``, ``"-1"``, ``" 5 "``), taken at money
precision (rounded half away from zero to 4 decimal places).  An item's
*amount* (its line total) is ``amount`` when given, else ``qty × unit_price −
discount`` (``discount`` defaults to 0): :func:`line_total_units`.  A line
without ``sku`` is a *charge* (delivery, a fee): only its ``amount`` counts.  The
``catalogue`` plugin checks purchases' items strictly
(:func:`line_item_problems`); the ``loyalty`` plugin reads the amount of items
in excluded categories.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterator, NamedTuple

from .types import MONEY_SCALE, money_from_units

__all__ = ["AMOUNT_TEXT", "amount_units", "line_total_units", "line_item_problems",
           "times_units", "LineItem"]

AMOUNT_TEXT = re.compile(r" *[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+) *")
"""A decimal amount written as text: optional sign, digits with at most one point, spaces around."""


def amount_units(amount: Any) -> int | None:
    """A line-item number (``amount``, ``qty``, ``unit_price``, ``discount``) in money units
    (1/``MONEY_SCALE``), or None when it is not a usable number."""
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


def times_units(qty_units: int, price_units: int) -> int:
    """``qty × unit_price`` of two money-unit numbers, in money units, rounded half away
    from zero (exact integer arithmetic)."""
    product = qty_units * price_units
    rounded = (abs(product) + MONEY_SCALE // 2) // MONEY_SCALE
    return rounded if product >= 0 else -rounded


def line_total_units(item: Any) -> int | None:
    """An item's line total in money units: its ``amount``, else ``qty × unit_price −
    discount``; None when neither can be worked out."""
    if not isinstance(item, dict):
        return None
    if "amount" in item:
        return amount_units(item["amount"])
    qty, price = amount_units(item.get("qty")), amount_units(item.get("unit_price"))
    discount = amount_units(item.get("discount", 0))
    if qty is None or price is None or discount is None:
        return None
    return times_units(qty, price) - discount


class LineItem(NamedTuple):
    """One checked item; every number in money units (1/``MONEY_SCALE``)."""

    index: int
    sku: str
    qty_units: int
    unit_price_units: int
    discount_units: int
    total_units: int


MAX_ITEMS = 1000
"""The most line items one purchase may carry."""


def line_item_problems(payload: Any, amount_units_of_purchase: int | None,
                       items: list[LineItem]) -> Iterator[tuple[str, str]]:
    """``(field, message)`` for each way ``payload["items"]`` breaks the strict convention.

    Strict means: a list of at most :data:`MAX_ITEMS` objects; a product line has a
    non-empty text ``sku``, ``qty`` > 0, ``unit_price`` ≥ 0 and ``discount`` ≥ 0
    (default 0), and its ``amount``, when given, equals ``qty × unit_price −
    discount``; a charge line (no ``sku``) has a numeric ``amount``; and the line
    totals add up to the purchase's amount.  Good product lines are appended to
    ``items``.  A payload without ``items`` has no problems.
    """
    raw = payload.get("items") if isinstance(payload, dict) else None
    if raw is None:
        return
    if not isinstance(raw, list):
        yield "payload.items", f"must be a list of line items, got {type(raw).__name__}"
        return
    if len(raw) > MAX_ITEMS:
        yield "payload.items", f"{len(raw)} line items; at most {MAX_ITEMS}"
        return
    total, complete = 0, True
    for index, item in enumerate(raw):
        where = f"payload.items[{index}]"
        if not isinstance(item, dict):
            yield where, f"must be an object with sku, qty, unit_price, got {type(item).__name__}"
            complete = False
            continue
        if "sku" not in item:
            charge = amount_units(item.get("amount"))
            if charge is None:
                yield (f"{where}.amount", "a line without sku is a charge and needs a numeric "
                       "amount (a product line needs sku, qty and unit_price)")
                complete = False
            else:
                total += charge
            continue
        found = yield from _item_problems(index, item, where)
        if found is None:
            complete = False
            continue
        items.append(found)
        total += found.total_units
    if complete and amount_units_of_purchase is not None and total != amount_units_of_purchase:
        yield ("payload.items", f"the line totals add up to {_show(total)}, not the purchase "
               f"amount {_show(amount_units_of_purchase)}")


def _item_problems(index: int, item: dict, where: str):
    sku = item.get("sku")
    bad = False
    if not isinstance(sku, str) or not sku.strip():
        yield f"{where}.sku", "must be the product's SKU as non-empty text"
        bad = True
    numbers = {}
    for key, low, required in (("qty", "> 0", True), ("unit_price", "≥ 0", True),
                               ("discount", "≥ 0", False)):
        value = item.get(key)
        if value is None and not required:
            numbers[key] = 0
            continue
        units = amount_units(value)
        if units is None:
            yield f"{where}.{key}", (f"{value!r} is not a number" if value is not None
                                     else "required") + f" (allowed: a number {low})"
            bad = True
        elif units < 0 or (units == 0 and key == "qty"):
            yield f"{where}.{key}", f"{_show(units)}: must be {low}"
            bad = True
        else:
            numbers[key] = units
    if bad:
        return None
    expected = times_units(numbers["qty"], numbers["unit_price"]) - numbers["discount"]
    if "amount" in item:
        given = amount_units(item["amount"])
        if given != expected:
            yield (f"{where}.amount", f"{item['amount']!r} does not match qty × unit_price − "
                   f"discount = {_show(expected)}")
            return None
    return LineItem(index, sku.strip(), numbers["qty"], numbers["unit_price"],
                    numbers["discount"], expected)


def _show(units: int) -> str:
    """Money units as a plain decimal text (``8.5``, ``-1``)."""
    text = format(money_from_units(units), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
