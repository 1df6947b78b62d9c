"""Excluded line items worked out from the parsed payloads (known answers, no database)."""

from __future__ import annotations

import pytest

from crmkit_loyalty.line_items import LIMIT_UNITS, excluded_by_interaction, excluded_units

from crmkit.plugin import amount_units

DELIVERY = frozenset({"delivery"})


@pytest.mark.parametrize("amount, units", [
    ("4.99", 49_900), (" 1.5 ", 15_000), ("5.", 50_000), (".5", 5_000), ("+2", 20_000),
    ("-1", -10_000), (3, 30_000), (4.99, 49_900), ("0.00005", 1), ("-0.00005", -1),
    ("0.00004", 0), ("abc", None), ("1e2", None), ("+-1", None), ("1.2.3", None), ("", None),
    ("5\n", None), (True, None), (None, None), (float("nan"), None), ([1], None),
])
def test_amounts_that_count_and_those_ignored(amount, units):
    assert amount_units(amount) == units


def test_only_items_of_excluded_categories_in_a_list_count():
    payload = {"items": [{"category": "delivery", "amount": "4.99"},
                         {"category": "goods", "amount": "100"},
                         {"category": ["delivery"], "amount": "1"},   # not a name: ignored
                         {"category": "delivery"}, "delivery 5"]}
    assert excluded_units(payload, DELIVERY) == 49_900
    assert excluded_units({"items": {"a": {"category": "delivery", "amount": "5"}}}, DELIVERY) == 0
    assert excluded_units(None, DELIVERY) == 0
    assert excluded_units(payload, frozenset()) == 0


def test_huge_amounts_are_clamped_to_a_64_bit_difference():
    payload = {"items": [{"category": "delivery", "amount": 10**30}]}
    assert excluded_units(payload, DELIVERY) == LIMIT_UNITS
    assert excluded_units({"items": [{"category": "delivery", "amount": -10**30}]},
                          DELIVERY) == -LIMIT_UNITS


def test_per_interaction_only_purchases_with_something_excluded():
    rows = [{"id": 1, "kind": "purchase", "payload": {"items": [
                {"category": "delivery", "amount": "2"}]}},
            {"id": 2, "kind": "purchase", "payload": None},
            {"id": 3, "kind": "refund", "payload": {"items": [
                {"category": "delivery", "amount": "2"}]}},
            {"id": 4, "kind": "purchase", "payload": {"items": [
                {"category": "delivery", "amount": "2"}, {"category": "delivery", "amount": "-2"}]}}]
    assert excluded_by_interaction(rows, DELIVERY) == {1: 20_000}
