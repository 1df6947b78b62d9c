"""Helpers of the catalogue tests: a small product list and purchases with line items."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

UTC = dt.timezone.utc

PRODUCTS = [
    {"sku": "BREAD-S", "name": "Small loaf", "category": "food/bread", "list_price": "10",
     "unit_cost": "4"},
    {"sku": "BREAD-L", "name": "Large loaf", "category": "food/bread", "list_price": "20",
     "unit_cost": "12"},
    {"sku": "TEA", "name": "Tea", "category": "drinks", "list_price": "5", "unit_cost": "1"},
    {"sku": "COFFEE", "name": "Coffee", "category": "drinks", "list_price": "8",
     "unit_cost": "5"},
]


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=UTC)


def line(sku: str, qty, unit_price, discount="0") -> dict:
    return {"sku": sku, "qty": qty, "unit_price": str(unit_price), "discount": str(discount)}


def order(customer: str, when: dt.datetime, *lines: dict, ref: str | None = None) -> dict:
    """A purchase whose amount is the sum of its lines."""
    amount = sum(Decimal(str(x["qty"])) * Decimal(x["unit_price"]) - Decimal(x["discount"])
                 for x in lines)
    return {"customer": customer, "occurred_at": when, "kind": "purchase", "amount": amount,
            "external_id": ref, "payload": {"items": list(lines)}}
