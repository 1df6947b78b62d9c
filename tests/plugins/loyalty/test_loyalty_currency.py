"""Currency: loyalty counts money in the CRM's default currency; other currencies earn nothing."""

from __future__ import annotations

from decimal import Decimal

from loyalty_support import at

TIERS = [{"name": "bronze", "threshold": 0}, {"name": "silver", "threshold": 500},
         {"name": "gold", "threshold": 1000, "multiplier": 2}]


def test_purchases_in_other_currencies_earn_nothing(crm, loyalty, shop):
    api = loyalty({"tiers": TIERS, "milestones": []}, customers=("C1", "C2", "C3"))
    shop.purchase("C1", "10000", at(2024, 12, 1), currency="JPY")
    shop.purchase("C2", "49.90", at(2024, 12, 1), currency="EUR")
    shop.purchase("C3", "49.90", at(2024, 12, 1))                    # the default: USD
    assert [api.balance(c) for c in ("C1", "C2", "C3")] == [0, 0, 49]
    assert api.tier("C1") == "bronze" and api.statement("C1") == []
    assert api.member("C1").purchases == 1                          # counted all the same
    shop.refund("C1", "P1", at(2024, 12, 2), "10000", currency="JPY")
    assert (api.balance("C1"), api.owed("C1")) == (0, 0)            # nothing to reverse
    huge = shop.purchase("C1", "3000000000", at(2024, 12, 3), currency="JPY")
    assert huge.id and api.balance("C1") == 0                       # no points, no overflow


def test_the_program_follows_the_default_currency(crm, loyalty, shop):
    api = loyalty({"tiers": [], "milestones": []})
    crm.plugins.configure_core({**crm.core_config, "default_currency": "EUR"})
    shop.purchase("C1", "49.90", at(2024, 12, 1))                    # EUR now
    shop.purchase("C1", "100", at(2024, 12, 1), currency="USD")
    assert api.balance("C1") == 49


def test_spend_tiers_count_the_program_currency_only(crm, loyalty, shop, clock):
    api = loyalty({"tiers": TIERS, "milestones": [], "tier_basis": "spend"})
    clock.set(at(2024, 12, 5))
    shop.purchase("C1", "10000", at(2024, 12, 1), currency="JPY")
    shop.purchase("C1", "49.90", at(2024, 12, 1), currency="EUR")
    assert (api.tier("C1"), api.qualifying("C1")) == ("bronze", 0)
    shop.purchase("C1", "600", at(2024, 12, 2))
    shop.refund("C1", "P1", at(2024, 12, 3), "10000", currency="JPY")
    shop.purchase("C1", "10000", at(2024, 12, 4), currency="JPY")
    assert (api.tier("C1"), api.qualifying("C1")) == ("silver", Decimal(600))
    clock.set(at(2025, 12, 1))                                       # the review counts the same
    assert api.review_tiers() == [] and api.tier("C1") == "silver"
