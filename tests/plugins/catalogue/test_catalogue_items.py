"""Purchases' line items: checked in the write pipeline, stored with the unit cost."""

from __future__ import annotations

from decimal import Decimal

import pytest
from catalogue_support import at, line, order
from sqlalchemy import func, select

from crmkit.plugin import ValidationError, interactions


def _count(crm) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(interactions)).scalar_one()


@pytest.mark.parametrize("lines, amount, field, message", [
    ([line("NOPE", 1, 5)], "5", "payload.items[0].sku",
     "'NOPE' is not a product of the catalogue"),
    ([line("TEA", 0, 5)], "0", "payload.items[0].qty", "0: must be > 0"),
    ([line("TEA", -2, 5)], "0", "payload.items[0].qty", "-2: must be > 0"),
    ([line("TEA", 2, 5), line("COFFEE", 1, 8)], "19", "payload.items",
     "the line totals add up to 18, not the purchase amount 19"),
    ([dict(line("TEA", 2, 5), amount="9")], "9", "payload.items[0].amount",
     "'9' does not match qty × unit_price − discount = 10"),
    ([line("TEA", 1, 5), "TEA"], "5", "payload.items[1]", "must be an object"),
    ([{"category": "delivery"}], "5", "payload.items[0].amount",
     "a line without sku is a charge and needs a numeric amount"),
])
def test_a_bad_line_is_one_row_error_and_nothing_is_written(crm, catalogue, lines, amount,
                                                            field, message):
    catalogue()
    good = order("C1", at(2025, 1, 1), line("TEA", 1, 5), ref="ok")
    bad = {"customer": "C1", "occurred_at": at(2025, 1, 2), "kind": "purchase",
           "amount": Decimal(amount), "external_id": "bad", "payload": {"items": lines}}
    with pytest.raises(ValidationError) as caught:
        crm.interactions.record_many([good, bad], atomic=True)
    [(where, got_field, got)] = caught.value.problems
    assert (where, got_field) == ("row 2", field) and message in got, caught.value.problems
    assert _count(crm) == 0


def test_lines_are_stored_with_the_cost_at_purchase_and_charges_count_in_the_total(crm, catalogue):
    api = catalogue()
    purchase = order("C1", at(2025, 1, 1), line("TEA", 3, 5, "1.5"), line("BREAD-L", 1, 20))
    purchase["payload"]["items"].append({"category": "delivery", "amount": "4.99"})
    purchase["amount"] += Decimal("4.99")
    crm.interactions.record_many([purchase])
    api.add_products([{"sku": "TEA", "name": "Tea", "category": "drinks", "list_price": "5",
                       "unit_cost": "2"}])  # a later cost change leaves the margin as it was
    [row] = api.profit(as_of=at(2025, 2, 1))
    # revenue 3×5 − 1.5 + 20 = 33.5; cost 3×1 + 12 = 15
    assert (row.revenue, row.cost_of_goods, row.gross_margin) == (
        Decimal("33.5"), Decimal("15"), Decimal("18.5"))


def test_purchases_without_items_and_other_kinds_are_not_checked(crm, catalogue):
    catalogue()
    crm.interactions.record("C1", at(2025, 1, 1), kind="purchase", amount=Decimal("12"))
    crm.interactions.record("C1", at(2025, 1, 1), kind="visit",
                            payload={"items": [{"sku": "NOPE"}]})
    assert _count(crm) == 2
