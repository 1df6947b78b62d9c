"""Purchases' line items: checked in the write pipeline, stored set-based per batch.

The items follow the core's line-item convention (``crmkit.plugin.line_item_problems``):
``payload.items`` of a purchase is a list of ``{sku, qty, unit_price, discount}``
(``amount`` optional), the line totals adding up to the purchase's amount.
This plugin adds one rule: every SKU is a product of the catalogue.  A purchase
without ``items`` is accepted and has no line items.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crmkit.plugin import LineItem, insert_rows, line_item_problems, money_units, times_units

from .settings import Settings, settings_of
from .tables import items, products


def problems(settings: Settings, conn, rows: list[dict[str, Any]]
             ) -> list[tuple[int, str, str]]:
    """``(index, field, message)`` for every purchase whose line items break a rule."""
    found: list[tuple[int, str, str]] = []
    checked = _checked(settings, rows, found)
    skus = {item.sku for lines in checked.values() for item in lines}
    if skus:
        known = _known(conn, skus)
        for index, lines in checked.items():
            for item in lines:
                if item.sku not in known:
                    found.append((index, f"payload.items[{item.index}].sku",
                                  f"{item.sku!r} is not a product of the catalogue "
                                  "(crmkit catalogue list shows them)"))
    return found


def _checked(settings: Settings, rows, found) -> dict[int, list[LineItem]]:
    kinds = settings.purchase_kinds
    checked: dict[int, list[LineItem]] = {}
    for index, row in enumerate(rows):
        payload = row.get("payload")
        if row.get("kind") not in kinds or not isinstance(payload, dict) or "items" not in payload:
            continue
        amount = row.get("amount")
        lines: list[LineItem] = []
        units = None if amount is None else money_units(Decimal(amount))
        for field, message in line_item_problems(payload, units, lines):
            found.append((index, field, message))
        checked[index] = lines
    return checked


def _known(conn, skus: set[str]) -> set[str]:
    return set(conn.execute(select(products.c.sku).where(products.c.sku.in_(sorted(skus))))
               .scalars())


def store(ctx, batch) -> int:
    """Copy the batch's purchases' line items into ``catalogue_items`` with the products'
    unit costs now; returns the number of lines stored."""
    unused: list = []
    checked = _checked(settings_of(ctx.config), batch.rows, unused)
    if not checked:
        return 0
    skus = sorted({item.sku for lines in checked.values() for item in lines})
    cost = {sku: money_units(unit_cost) for sku, unit_cost in ctx.conn.execute(
        select(products.c.sku, products.c.unit_cost).where(products.c.sku.in_(skus)))}
    out = []
    for index, lines in checked.items():
        row = batch.rows[index]
        for item in lines:
            out.append({"interaction_id": row["id"], "customer_id": row["customer_id"],
                        "occurred_at": row["occurred_at"], "line": item.index, "sku": item.sku,
                        "qty_units": item.qty_units, "total_units": item.total_units,
                        "cost_units": times_units(item.qty_units, cost[item.sku])})
    if out:
        insert_rows(ctx.conn, items, out)
    return len(out)
