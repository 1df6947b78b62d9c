"""Referral codes and redemption rules; ``referral.converted`` on the referee's first purchase."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crmkit.errors import ConflictError, NotFound, ValidationError
from crmkit_social.referrals import ALPHABET


@pytest.fixture
def social(crm):
    crm.plugins.enable("social")
    crm.customers.add("REF", "Rita", email="rita@example.com", phone="+44 20 7946 0001")
    return crm


def test_codes_are_unique_unguessable_and_stable(social):
    api = social.plugin("social")
    social.customers.add("C2")
    code = api.referral_code("REF")
    assert re.fullmatch(f"[{ALPHABET}]{{10}}", code)
    assert not set("01OIL") & set(code)
    assert api.referral_code("REF") == code
    assert api.referral_code("C2") != code
    social.plugins.configure("social", {"referral_code_length": 16})
    social.customers.add("C3")
    assert len(api.referral_code("C3")) == 16 and api.referral_code("REF") == code
    assert api.codes_issued() == 3


def test_self_referral_and_second_referral_are_refused(social, clock):
    api = social.plugin("social")
    code = api.referral_code("REF")
    social.customers.add("SAME-EMAIL", email="  Rita@Example.com")
    social.customers.add("SAME-PHONE", phone="+442079460001")
    social.customers.add("NEW", email="nina@example.com", phone="+44 20 7946 0002")
    with pytest.raises(ValidationError, match="customer 'REF' cannot redeem their own"):
        api.redeem_referral(code, "REF")
    with pytest.raises(ValidationError, match="'SAME-EMAIL' has the same email as the referrer "
                                              "'REF': self-referral refused"):
        api.redeem_referral(code, "SAME-EMAIL")
    with pytest.raises(ValidationError, match="'SAME-PHONE' has the same phone as the referrer"):
        api.redeem_referral(code, "SAME-PHONE")
    with pytest.raises(NotFound, match="no referral code 'NOPE2345'"):
        api.redeem_referral("NOPE2345", "NEW")
    assert api.referrals() == []
    referral = api.redeem_referral(code.lower()[:5] + "-" + code.lower()[5:], "NEW")
    assert (referral.referrer_id, referral.referee_id) == (social.customers.get("REF").id,
                                                          social.customers.get("NEW").id)
    social.customers.add("OTHER")
    with pytest.raises(ConflictError, match="customer 'NEW' was already referred by 'REF' on "
                                            "2025-01-01"):
        api.redeem_referral(api.referral_code("OTHER"), "NEW")
    assert [(r["referrer"], r["referee"], r["converted"]) for r in api.referrals()] == [
        ("REF", "NEW", False)]


def test_only_new_customers_without_purchases_can_redeem(social, clock):
    api = social.plugin("social")
    code = api.referral_code("REF")
    social.customers.add("BUYER")
    social.interactions.record("BUYER", clock.now(), amount="5")
    with pytest.raises(ValidationError, match="'BUYER' already has purchases"):
        api.redeem_referral(code, "BUYER")
    social.customers.add("OLD")
    clock.advance(days=31)
    with pytest.raises(ValidationError, match="'OLD' became a customer on 2025-01-01; codes can "
                                              "be redeemed within 30 days of joining"):
        api.redeem_referral(code, "OLD")
    social.plugins.configure("social", {"referral_redeem_days": 60})
    assert api.redeem_referral(code, "OLD").referee_id == social.customers.get("OLD").id


def test_first_purchase_of_the_referee_emits_converted_once(social, clock):
    api = social.plugin("social")
    social.customers.add("NEW")
    referral = api.redeem_referral(api.referral_code("REF"), "NEW")
    now = clock.now()
    social.interactions.record_many([
        {"customer": "NEW", "occurred_at": now, "kind": "visit"},
        {"customer": "REF", "occurred_at": now, "amount": "40"},
        {"customer": "NEW", "occurred_at": now - dt.timedelta(days=1), "amount": "9"},  # before
    ])
    assert social.events.list(type="referral.converted") == []
    clock.advance(hours=1)
    first = social.interactions.record("NEW", clock.now(), amount="25")
    social.interactions.record("NEW", clock.now(), amount="30")
    social.interactions.record_many([{"customer": "NEW", "occurred_at": clock.now(),
                                      "amount": "1"}] * 1)
    [event] = social.events.list(type="referral.converted")
    ref_id = social.customers.get("REF").id
    assert (event.customer_id, event.source) == (ref_id, "social")
    assert event.payload == {"referrer_id": ref_id, "referee_id": social.customers.get("NEW").id,
                             "interaction_id": first.id, "referral_id": referral.id}
    [row] = api.referrals()
    assert row["converted"] and row["converted_at"] == clock.now()
    assert api.referrals(as_of=clock.now() - dt.timedelta(minutes=1))[0]["converted"] is False



def test_interactions_without_a_purchase_cost_no_referral_statement(social, clock, statements):
    api = social.plugin("social")
    social.customers.add("NEW")
    api.redeem_referral(api.referral_code("REF"), "NEW")
    with statements(social.engine, "social_referrals") as seen:
        social.interactions.record("NEW", clock.now(), kind="visit")
    assert seen == []
    assert api.referrals()[0]["converted"] is False
