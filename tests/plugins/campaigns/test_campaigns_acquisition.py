"""Acquisition cost per customer (``crmkit_acquisition_costs``) and the catalogue's profit
that subtracts it, worked out by hand.

The campaign ``launch`` (planned 1 Jan, window 10 days, cost 10 + 0.50 a message) is
delivered on 1 Jan to N1, N2, N3, O1 and L1 and bounces for X1: 6 messages sent, cost
10 + 0.50 × 6 = 13.00; H1 is held out.  Every purchase is 2 TEA at 5 (revenue 10, cost of
goods 2, margin 8).

* O1 bought on 20 Dec, before the campaign, and again on 5 Jan: the campaign is credited
  with the second purchase, but O1 was not acquired by it;
* N1 (2 Jan), N2 (3 Jan) and N3 (4 Jan, again 15 Feb) first bought within the window:
  acquired;
* L1 first bought on 20 Jan, after the window: not acquired; H1 (4 Jan) got no message.

13.00 = 130,000 money units over 3 customers: 43,333 each, remainder 1 to the lowest
customer id (N1): N1 4.3334, N2 4.3333, N3 4.3333 (adding up to 13.0000).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from results_support import Campaigns, at

TEA = {"sku": "TEA", "name": "Tea", "category": "drinks", "list_price": "5", "unit_cost": "1"}
AS_OF = at(28, month=2)


@pytest.fixture
def shop(crm):
    crm.plugins.enable("campaigns")
    crm.plugins.enable("catalogue")
    crm.plugin("catalogue").add_products([TEA])
    return Campaigns(crm)


def tea(shop, external_id, when):
    shop.serial += 1
    shop.crm.interactions.record(
        external_id, when, kind="purchase", amount=Decimal(10), external_id=f"P{shop.serial}",
        payload={"items": [{"sku": "TEA", "qty": 2, "unit_price": "5", "discount": "0"}]})


def launch(shop):
    shop.customers("N1", "N2", "N3", "O1", "L1", "X1", "H1")
    shop.campaign("launch", at(1), {c: (None, at(1, 10)) for c in ("N1", "N2", "N3", "O1", "L1")},
                  held_out=["H1"], cost_fixed="10", cost_per_message="0.50",
                  attribution_days=10, bounced={"X1": None})
    tea(shop, "O1", at(20, month=12, year=2024))
    tea(shop, "N1", at(2, 9))
    tea(shop, "N2", at(3, 9))
    tea(shop, "N3", at(4, 9))
    tea(shop, "H1", at(4, 9))
    tea(shop, "O1", at(5, 9))
    tea(shop, "L1", at(20, 9))
    tea(shop, "N3", at(15, 9, month=2))


def _lines(lines):
    return [(x.key, x.gross_margin, x.acquisition_cost, x.profit) for x in lines]


def test_each_acquired_customer_carries_an_equal_share_of_the_campaign_cost(crm, shop):
    launch(shop)
    catalogue = crm.plugin("catalogue")
    assert _lines(catalogue.profit("customer", AS_OF)) == [
        ("O1", Decimal(16), Decimal(0), Decimal(16)),
        ("N3", Decimal(16), Decimal("4.3333"), Decimal("11.6667")),
        ("H1", Decimal(8), Decimal(0), Decimal(8)),
        ("L1", Decimal(8), Decimal(0), Decimal(8)),
        ("N2", Decimal(8), Decimal("4.3333"), Decimal("3.6667")),
        ("N1", Decimal(8), Decimal("4.3334"), Decimal("3.6666"))]
    assert catalogue.acquisition_note() == ("acquisition cost attributed by the enabled "
                                            "plugins: campaigns")
    # the cost falls in the month of the acquisition: January's margin 6 × 8 = 48 − 13
    assert [(x.key, x.gross_margin, x.acquisition_cost, x.profit)
            for x in catalogue.profit("period", AS_OF)] == [
        ("2024-12", Decimal(8), Decimal(0), Decimal(8)),
        ("2025-01", Decimal(48), Decimal(13), Decimal(35)),
        ("2025-02", Decimal(8), Decimal(0), Decimal(8))]
    # after January only N3's February purchase; N3 was acquired before, so no cost
    assert _lines(catalogue.profit("customer", AS_OF, since=at(31, 23))) == [
        ("N3", Decimal(8), Decimal(0), Decimal(8))]
    # as of 3 Jan noon N1 and N2 were the campaign's only acquisitions: 6.50 each
    assert _lines(catalogue.profit("customer", at(3, 12))) == [
        ("O1", Decimal(8), Decimal(0), Decimal(8)),
        ("N1", Decimal(8), Decimal("6.5"), Decimal("1.5")),
        ("N2", Decimal(8), Decimal("6.5"), Decimal("1.5"))]


def test_first_touch_and_segments_and_pareto_on_profit(crm, shop):
    crm.plugins.configure("campaigns", {"attribution": {"model": "first_touch"}})
    launch(shop)
    # a second campaign touching N1 on 2 Jan before the purchase is not credited by first
    # touch, so it acquires nobody and its cost 50 is nobody's
    shop.campaign("later", at(2), {"N1": (None, at(2, 8))}, cost_fixed="50",
                  attribution_days=10)
    crm.plugins.enable("analytical")
    analytical = crm.plugin("analytical")
    analytical.save_segment("new", {"field": "external_id", "op": "in", "value": ["N1", "N2"]})
    [new] = crm.plugin("catalogue").profit("segment", AS_OF)
    assert (new.key, new.customers, new.acquisition_cost, new.profit) == (
        "new", 2, Decimal("8.6667"), Decimal("7.3333"))
    # ranked by profit: 16, 11.6667, 8, 8, 3.6667, 3.6666; total 64 − 13 = 51
    result = analytical.pareto(AS_OF, measure="profit")
    assert (result.customers, result.revenue) == (6, Decimal("51.00"))
    assert analytical.pareto(AS_OF, measure="margin").revenue == Decimal("64.00")


def test_last_touch_credits_the_later_campaign(crm, shop):
    launch(shop)
    shop.campaign("later", at(2), {"N1": (None, at(2, 8))}, cost_fixed="50",
                  attribution_days=10)
    # last touch: N1 is "later"'s (cost 50 + 0 × 1 message = 50); "launch" keeps N2 and N3
    # (13.00 / 2 = 6.50 each)
    costs = {x.key: x.acquisition_cost for x in crm.plugin("catalogue").profit("customer", AS_OF)}
    assert {k: v for k, v in costs.items() if v} == {
        "N1": Decimal(50), "N2": Decimal("6.5"), "N3": Decimal("6.5")}


def test_profit_command_shows_the_acquisition_cost(crm, shop, run_cli):
    launch(shop)
    code, out, err = run_cli("catalogue", "profit", "--by", "period", "--period", "year",
                             "--as-of", "2025-02-28", "--format", "csv")
    assert code == 0, err
    assert out.splitlines() == [
        "period,customers,revenue,cost_of_goods,gross_margin,cost_to_serve,acquisition_cost,"
        "profit", "2024,1,10.0000,2.0000,8.0000,0.0000,0.0000,8.0000",
        "2025,6,70.0000,14.0000,56.0000,0.0000,13.0000,43.0000"]
    assert err == "note: acquisition cost attributed by the enabled plugins: campaigns\n"
    code, out, _ = run_cli("catalogue", "profit", "--as-of", "2025-02-28", "--format", "json")
    assert {r["customer"]: r["acquisition_cost"] for r in json.loads(out)}["N1"] == "4.3334"


def test_the_360_card_shows_the_acquisition_cost(crm, shop, clock):
    from crmkit.auth import Principal
    from crmkit.plugin import translating
    from crmkit_catalogue.card import card

    launch(shop)
    clock.set(AS_OF)
    admin = Principal("ana", "admin", frozenset({"*"}))
    shown = card(crm, admin, {"external_id": "N1"})
    assert shown.rows[:5] == (("Revenue", "10.00"), ("Gross margin", "8.00"),
                              ("Cost to serve", "0.00"), ("Acquisition cost", "4.33"),
                              ("Profit", "3.67"))
    with translating(crm, "zh-Hans"):
        assert card(crm, admin, {"external_id": "N1"}).rows[3] == ("获客成本", "4.33")
