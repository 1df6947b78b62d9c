"""Tiers: immediate upgrades, downgrades only at review dates by at most one tier, config checks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loyalty_support import at

from crmkit.errors import ConfigError

TIERS = [{"name": "bronze", "threshold": 0}, {"name": "silver", "threshold": 500},
         {"name": "gold", "threshold": 1000}]
BASE = {"tiers": TIERS, "milestones": [], "review_months": 18}


def changes(crm):
    return [(e.payload["from"], e.payload["to"], e.payload["reason"])
            for e in crm.events.list(type="tier.changed")]


def test_downgrade_only_at_review_by_one_tier_upgrade_at_once(crm, loyalty, shop, clock):
    api = loyalty(BASE)
    clock.set(at(2024, 1, 10))
    shop.purchase("C1", "1000", at(2024, 1, 10))
    assert api.tier("C1") == "gold"
    assert api.member("C1").review_at == at(2025, 7, 10)
    clock.set(at(2025, 3, 1))
    assert api.qualifying("C1") == 0                     # nothing earned in the last 12 months
    assert api.review_tiers() == []                      # not due yet
    assert api.tier("C1") == "gold"
    clock.set(at(2025, 7, 10))
    [change] = api.review_tiers()
    assert (change.before, change.after) == ("gold", "silver")   # one tier, not to bronze
    assert api.review_tiers() == []                      # idempotent
    assert api.member("C1").review_at == at(2027, 1, 10)
    clock.set(at(2026, 6, 1))
    api.review_tiers()
    assert api.tier("C1") == "silver"
    shop.purchase("C1", "1200", at(2026, 6, 1))          # upgrade: immediate, not at review
    assert api.tier("C1") == "gold"
    assert changes(crm) == [(None, "gold", "upgrade"), ("gold", "silver", "review"),
                            ("silver", "gold", "upgrade")]


def test_max_downgrade_steps_changes_the_drop(crm, loyalty, shop, clock):
    api = loyalty(dict(BASE, max_downgrade_steps=2))
    clock.set(at(2024, 1, 10))
    shop.purchase("C1", "1000", at(2024, 1, 10))
    clock.set(at(2025, 7, 10))
    api.review_tiers()
    assert api.tier("C1") == "bronze"


def test_review_date_default_is_twelve_months_after_joining(crm, loyalty, shop, clock):
    api = loyalty({"tiers": TIERS, "milestones": []})
    clock.set(at(2024, 1, 10))
    shop.purchase("C1", "1000", at(2024, 1, 10))
    assert api.member("C1").review_at == at(2025, 1, 10)
    clock.set(at(2025, 1, 11))
    api.review_tiers()
    assert api.tier("C1") == "silver"


def test_members_who_still_qualify_keep_their_tier_at_review(crm, loyalty, shop, clock):
    api = loyalty(BASE)
    clock.set(at(2024, 1, 10))
    shop.purchase("C1", "1000", at(2024, 1, 10))
    clock.set(at(2025, 7, 1))
    shop.purchase("C1", "1000", at(2025, 7, 1))
    clock.set(at(2025, 7, 10))
    assert api.review_tiers() == []
    assert api.tier("C1") == "gold"


def test_window_and_refunds_in_the_points_basis(crm, loyalty, shop, clock):
    api = loyalty(dict(BASE, tier_window_months=1))
    clock.set(at(2024, 1, 10))
    shop.purchase("C1", "300", at(2024, 1, 10), external_id="P1")
    clock.set(at(2024, 3, 1))
    shop.purchase("C1", "300", at(2024, 3, 1))
    assert api.qualifying("C1") == 300                   # January is outside a 1-month window
    assert api.tier("C1") == "bronze"
    shop.purchase("C1", "300", at(2024, 3, 1))
    assert api.tier("C1") == "silver"
    shop.refund("C1", "P1", at(2024, 3, 1))
    assert api.qualifying("C1") == 300                   # 600 earned − 300 reversed
    assert api.tier("C1") == "silver"                     # refunds never downgrade at once


@pytest.mark.parametrize("basis, amounts, expected", [
    ("spend", ["400", "150"], "silver"),                 # 550 spent ≥ 500
    ("purchases", ["1", "1", "1"], "silver"),            # 3 purchases ≥ 2
])
def test_other_bases(crm, loyalty, shop, clock, basis, amounts, expected):
    tiers = TIERS if basis == "spend" else [{"name": "bronze", "threshold": 0},
                                            {"name": "silver", "threshold": 2}]
    api = loyalty(dict(BASE, tier_basis=basis, tiers=tiers, points_per_unit=0))
    for amount in amounts:
        shop.purchase("C1", amount, at(2024, 12, 1))
    assert api.balance("C1") == 0
    assert api.tier("C1") == expected


@pytest.mark.parametrize("basis, gold, plat", [("points", 1000, 10000), ("purchases", 1, 10)])
def test_a_removed_tier_is_replaced_by_the_qualified_tier_never_called_an_upgrade(
        crm, loyalty, shop, clock, basis, gold, plat):
    api = loyalty(dict(BASE, tier_basis=basis, tiers=[{"name": "bronze", "threshold": 0},
                                                      {"name": "gold", "threshold": gold}]),
                  customers=("C1", "C2"))
    clock.set(at(2024, 12, 1))
    shop.purchase("C1", "1000", at(2024, 12, 1))
    shop.purchase("C2", "1000", at(2024, 12, 1))
    assert api.tier("C1") == api.tier("C2") == "gold"
    crm.plugins.configure("loyalty", dict(crm.plugins.config("loyalty"), tiers=[
        {"name": "basic", "threshold": 0}, {"name": "plat", "threshold": plat, "multiplier": 3}]))
    shop.purchase("C1", "1", at(2024, 12, 2))             # the next purchase places C1
    assert (api.tier("C1"), api.tier("C2")) == ("basic", "gold")
    assert changes(crm)[2:] == [("gold", "basic", "tier removed")]
    review_at = api.member("C2").review_at
    [change] = api.review_tiers()                         # not due, yet C2 is placed too
    assert (change.before, change.after, change.reason) == ("gold", "basic", "tier removed")
    assert api.member("C2").review_at == review_at
    assert api.review_tiers() == []
    assert changes(crm)[2:] == [("gold", "basic", "tier removed")] * 2


def test_tier_multipliers_and_summary(crm, loyalty, shop, clock):
    api = loyalty({"milestones": []})
    assert [(t.name, t.threshold, t.multiplier) for t in api.tiers()] == [
        ("bronze", 0, 1), ("silver", 1000, Decimal("1.25")), ("gold", 5000, Decimal("1.5"))]
    shop.purchase("C1", "1000", at(2024, 12, 1))
    shop.purchase("C1", "99.99", at(2024, 12, 2))
    assert api.tier("C1") == "silver"
    assert api.balance("C1") == 1000 + 124               # floor(99.99 × 1.25) = 124
    assert [t.members for t in api.tiers()] == [0, 1, 0]


@pytest.mark.parametrize("config, message", [
    ({"tiers": [{"name": "a", "threshold": 0}, {"name": "b", "threshold": 0}]},
     r"/tiers/1/threshold: 0 is not above the previous tier's 0"),
    ({"tiers": [{"name": "a", "threshold": 0}, {"name": "a", "threshold": 5}]},
     r"/tiers/1/name: tier 'a' appears twice"),
    ({"milestones": [{"count": 5, "points": 1}, {"count": 5, "points": 2}]},
     r"/milestones/1/count: 5 appears twice"),
    ({"cost_per_point": "1,5"}, r"/cost_per_point: '1,5' does not match"),
    ({"expiry_mode": "sometimes"}, r"/expiry_mode: 'sometimes' is not one of"),
])
def test_bad_config_is_one_clear_error_and_changes_nothing(crm, loyalty, config, message):
    loyalty()
    before = crm.plugins.config("loyalty")
    with pytest.raises(ConfigError, match=message):
        crm.plugins.configure("loyalty", config)
    assert crm.plugins.config("loyalty") == before
