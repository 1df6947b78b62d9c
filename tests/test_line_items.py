"""The shared line-item convention (crmkit.plugin.line_total_units, line_item_problems)."""

from __future__ import annotations

import pytest

from crmkit.plugin import LineItem, line_item_problems, line_total_units


@pytest.mark.parametrize("item, units", [
    ({"amount": "4.99"}, 49_900),
    ({"qty": 3, "unit_price": "1.5", "discount": "0.5"}, 40_000),
    ({"qty": "0.5", "unit_price": "0.0003"}, 2),          # 0.00015 rounds half away from zero
    ({"qty": 2, "unit_price": 1.25}, 25_000),
    ({"qty": 2, "unit_price": "1", "amount": "7"}, 70_000),  # a given amount wins
    ({"qty": 2}, None), ({"qty": "x", "unit_price": 1}, None), ("TEA", None),
])
def test_a_line_total_is_its_amount_else_qty_times_price_minus_discount(item, units):
    assert line_total_units(item) == units


def test_strict_problems_name_the_line_and_field_and_good_lines_are_kept():
    kept: list[LineItem] = []
    payload = {"items": [{"sku": "A", "qty": 2, "unit_price": "5", "discount": "1"},
                         {"category": "delivery", "amount": "4.99"}]}
    assert list(line_item_problems(payload, 139_900, kept)) == []
    assert kept == [LineItem(0, "A", 20_000, 50_000, 10_000, 90_000)]
    assert list(line_item_problems(payload, 140_000, [])) == [
        ("payload.items", "the line totals add up to 13.99, not the purchase amount 14")]
    bad = {"items": [{"sku": " ", "qty": 0, "unit_price": "-1"}, {"sku": "B", "qty": 1}]}
    assert list(line_item_problems(bad, None, [])) == [
        ("payload.items[0].sku", "must be the product's SKU as non-empty text"),
        ("payload.items[0].qty", "0: must be > 0"),
        ("payload.items[0].unit_price", "-1: must be ≥ 0"),
        ("payload.items[1].unit_price", "required (allowed: a number ≥ 0)")]
    assert list(line_item_problems({"items": "A"}, None, [])) == [
        ("payload.items", "must be a list of line items, got str")]
    assert list(line_item_problems({"other": 1}, 5, [])) == []
