"""Coupons: issued per recipient or shared, redeemed by a purchase's payload.coupon, refused
with one row error naming the field when unknown, expired, used or someone else's."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from results_support import Campaigns, at
from sqlalchemy import func, select

from crmkit.devtools.testing import api_client, api_pages
from crmkit.errors import ConflictError, ValidationError
from crmkit.tables import interactions
from crmkit_campaigns.tables import redemptions


@pytest.fixture
def shop(crm):
    crm.plugins.enable("campaigns")
    shop = Campaigns(crm)
    shop.customers("A", "B", "C")
    return shop


def written(crm) -> tuple[int, int]:
    with crm.read() as conn:
        return (conn.execute(select(func.count()).select_from(interactions)).scalar_one(),
                conn.execute(select(func.count()).select_from(redemptions)).scalar_one())


def codes(api, name) -> dict[str, str]:
    return {c.customer: c.code for c in api.coupons(name)}


def test_unique_codes_are_issued_per_recipient_and_redeemed_once(crm, shop, clock):
    shop.planned("spring", at(1), "A", "B")
    api = crm.plugin("campaigns")
    assert api.set_offer("spring", "percent", "10", valid_days=14) == 2
    issued = codes(api, "spring")
    assert set(issued) == {"A", "B"} and issued["A"] != issued["B"]
    assert all(code.startswith("SPRING-") and len(code) == 17 for code in issued.values())
    coupon = api.coupons("spring")[0]
    assert (coupon.kind, coupon.value, coupon.expires_at, coupon.uses, coupon.max_uses) == (
        "percent", Decimal("10.0000"), clock.now().replace(day=15), 0, 1)

    shop.purchase("A", "50.00", at(3), coupon=issued["A"].lower())  # codes are case-blind
    assert {c.customer: c.uses for c in api.coupons("spring")} == {"A": 1, "B": 0}
    assert written(crm) == (1, 1)


@pytest.mark.parametrize("case, message", [
    ("unknown", "unknown coupon 'NOPE'"),
    ("expired", "coupon '{code}' expired at 2025-01-15T12:00:00+00:00, before this purchase"),
    ("used", "coupon '{code}' has already been used"),
    ("other", "coupon '{code}' was issued to another customer"),
    ("not text", "12 is not a coupon code (text)"),
    ("currency", "coupon '{code}' is worth 5.0000 EUR; this purchase is in USD"),
])
def test_a_bad_coupon_is_one_row_error_and_nothing_is_written(crm, shop, case, message):
    shop.planned("spring", at(1), "A", "B")
    api = crm.plugin("campaigns")
    api.set_offer("spring", "amount", "5", currency="EUR", valid_days=14)
    code = codes(api, "spring")["A"]
    if case == "used":
        shop.purchase("A", "20", at(2), coupon=code, currency="EUR")
    before = written(crm)
    customer, when, coupon = {"unknown": ("A", at(2), "nope"), "expired": ("A", at(16), code),
                              "used": ("A", at(3), code), "other": ("B", at(2), code),
                              "not text": ("A", at(2), 12), "currency": ("A", at(2), code)}[case]
    with pytest.raises(ValidationError) as caught:
        shop.purchase(customer, "20", when, coupon=coupon,
                      currency=None if case == "currency" else "EUR")
    assert str(caught.value) == f"payload.coupon: {message.format(code=code)} [campaigns]"
    assert written(crm) == before


def test_a_code_used_twice_in_one_batch_refuses_the_batch(crm, shop):
    shop.planned("spring", at(1), "A")
    api = crm.plugin("campaigns")
    api.set_offer("spring", "percent", "15")
    code = codes(api, "spring")["A"]
    rows = [{"customer": "A", "occurred_at": at(2, hour), "kind": "purchase", "amount": "9",
             "external_id": f"P{hour}", "payload": {"coupon": code}} for hour in (1, 2)]
    with pytest.raises(ValidationError, match=rf"^row 2: payload.coupon: coupon '{code}' has "
                                              "already been used"):
        crm.interactions.record_many(rows)
    assert written(crm) == (0, 0)


def test_a_shared_code_is_used_once_per_customer_up_to_its_limit(crm, shop):
    shop.planned("spring", at(1), "A", "B", "C")
    api = crm.plugin("campaigns")
    assert api.set_offer("spring", "amount", "5", shared_code="spring5", max_uses=2) == 3
    assert codes(api, "spring") == {None: "SPRING5"}
    shop.purchase("A", "20", at(2), coupon="SPRING5")
    with pytest.raises(ValidationError, match="was already used by this customer"):
        shop.purchase("A", "20", at(3), coupon="SPRING5")
    shop.purchase("B", "20", at(3), coupon="SPRING5")
    with pytest.raises(ValidationError, match=r"has already been used 2 times \(its limit\)"):
        shop.purchase("C", "20", at(4), coupon="SPRING5")
    assert written(crm) == (2, 2)


def test_the_offer_cannot_change_once_redeemed_and_bad_offers_are_refused(crm, shop):
    shop.planned("spring", at(1), "A")
    api = crm.plugin("campaigns")
    for args, message in [
            (("percent", "120"), "coupon value 120: a percent must be more than 0 and at most 100"),
            (("amount", "-1"), "coupon value -1: a amount must be more than 0"),
            (("fixed", "1"), "coupon kind 'fixed': allowed amount, percent")]:
        with pytest.raises(ValidationError, match=message):
            api.set_offer("spring", *args)
    with pytest.raises(ValidationError, match="max uses is for a shared code"):
        api.set_offer("spring", "percent", "5", max_uses=3)
    api.set_offer("spring", "percent", "10")
    shop.purchase("A", "20", at(2), coupon=codes(api, "spring")["A"])
    with pytest.raises(ConflictError, match="its coupons were redeemed 1 time"):
        api.set_offer("spring", "percent", "20")


def test_coupons_command(crm, shop, run_cli, cli_on_test_clock):
    shop.planned("spring", at(1), "A")
    code, out, err = run_cli("campaigns", "coupons", "spring", "--amount", "5", "--currency",
                             "EUR", "--valid-days", "7", "--format", "json")
    assert code == 0 and err == "campaign spring: coupon offer set; 1 code(s) issued\n"
    [row] = json.loads(out)
    assert (row["customer"], row["kind"], row["value"], row["currency"], row["uses"]) == (
        "A", "amount", "5.0000", "EUR", 0)
    code, out, err = run_cli("campaigns", "coupons", "spring", "--percent", "5", "--amount", "1")
    assert (code, out, err) == (1, "", "error: coupons: give --amount or --percent, not both\n")
    code, out, err = run_cli("campaigns", "coupons", "nope")
    assert (code, err) == (1, "error: no campaign 'nope' (see `crmkit campaigns list`)\n")


def test_a_loyalty_reward_can_be_a_coupon(crm, shop):
    crm.plugins.enable("loyalty", {"expiry_mode": "none", "milestones": []})
    crm.plugins.enable("campaigns", {"coupons": {"rewards": {
        "TENOFF": {"percent": "10", "valid_days": 30}}}})
    loyalty = crm.plugin("loyalty")
    loyalty.add_reward("TENOFF", 100)
    shop.purchase("A", "150", at(1))
    loyalty.redeem("A", "TENOFF")
    [coupon] = crm.plugin("campaigns").coupons()
    assert (coupon.customer, coupon.kind, coupon.value, coupon.source, coupon.campaign) == (
        "A", "percent", Decimal("10.0000"), "loyalty reward TENOFF", None)
    [event] = crm.events.list(type="coupon.issued")
    assert event.payload["code"] == coupon.code
    shop.purchase("A", "40", at(2), coupon=coupon.code)
    assert crm.plugin("campaigns").coupons()[0].uses == 1


def test_a_merged_duplicates_coupons_and_redemptions_follow_it(crm, shop):
    shop.planned("spring", at(1), "A", "B")
    api = crm.plugin("campaigns")
    api.set_offer("spring", "percent", "10")
    shop.purchase("B", "20", at(2), coupon=codes(api, "spring")["B"])
    crm.customers.merge("A", "B")
    assert sorted((c.customer, c.uses) for c in api.coupons("spring")) == [("A", 0), ("A", 1)]
    exported = crm.customers.export_data("A")["plugins"]["campaigns"]["coupons"]
    assert sorted(c["uses"] for c in exported) == [0, 1]


def test_a_code_used_up_by_a_concurrent_purchase_rolls_the_batch_back(crm, shop, monkeypatch):
    """Two purchases validated at once both see the code unused; the second to be stored
    finds it used up and is refused with nothing written (checks run before the write)."""
    import crmkit_campaigns.coupons as coupons

    shop.planned("spring", at(1), "A")
    api = crm.plugin("campaigns")
    api.set_offer("spring", "percent", "10")
    code = codes(api, "spring")["A"]
    shop.purchase("A", "20", at(2), coupon=code)
    monkeypatch.setattr(coupons, "problems", lambda conn, rows: [])  # the other's check passed
    with pytest.raises(ConflictError, match=f"coupon '{code}' was used up by another purchase "
                                            "meanwhile; nothing was written"):
        shop.purchase("A", "25", at(3), coupon=code)
    assert written(crm) == (1, 1) and api.coupons("spring")[0].uses == 1


def test_an_offer_for_a_large_audience_issues_every_code_in_bounded_queries(crm, shop):
    import crmkit_campaigns.coupons as coupons

    crm.customers.add_many([{"external_id": f"L{n}"} for n in range(2500)])
    shop.planned("big", at(1), *[f"L{n}" for n in range(2500)])
    assert crm.plugin("campaigns").set_offer("big", "percent", "5") == 2500
    assert len({c.code for c in crm.plugin("campaigns").coupons("big")}) == 2500
    assert coupons.IN_CHUNK < 2500




def test_interactions_naming_no_coupon_cost_no_coupon_statement(crm, shop, statements):
    with statements(crm.engine, "campaigns_coupon") as seen:
        crm.interactions.record("A", at(3), kind="visit", payload={"coupon": "SPRING-X"})
        crm.interactions.record("A", at(3), amount="5.00")
    assert seen == []  # neither checked nor redeemed: only a purchase's coupon is
    assert written(crm) == (2, 0)


def test_the_coupons_route_answers_a_page_at_a_time_by_code(crm, shop):
    refs = [f"P{n:02}" for n in range(7)]
    shop.customers(*refs)
    shop.planned("spring", at(1), *refs)
    api = crm.plugin("campaigns")
    assert api.set_offer("spring", "percent", "10", valid_days=14) == 7
    by_code = sorted((c.code, c.customer) for c in api.coupons("spring"))
    with api_client(crm, role="admin") as client:
        pages = api_pages(client, "/api/v1/campaigns/campaigns/spring/coupons", {"limit": 3})
        assert [[(c["code"], c["customer"]) for c in page] for page in pages] == [
            by_code[:3], by_code[3:6], by_code[6:]]
        for params, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                              ({"cursor": "bm90IGpzb24"}, "cursor"),
                              ({"cursor": "MTI"}, "cursor")):
            answer = client.get("/api/v1/campaigns/campaigns/spring/coupons", params=params)
            assert answer.status_code == 422, (params, answer.text)
            assert field in answer.text
        assert client.get("/api/v1/campaigns/campaigns/nope/coupons").status_code == 404
