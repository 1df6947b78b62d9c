"""Planning: one INSERT … SELECT decides every recipient (consent, preferred channel, caps,
holdout, variants), once; re-running plans nothing new; the holdout is a stable draw."""

from __future__ import annotations

import math

from campaigns_support import ELIGIBLE, NORTH, PUBLIC_URL, SKIPPED, eligible
from sqlalchemy import delete, select

from crmkit.tables import customers
from crmkit_campaigns.tables import campaigns as campaign_table
from crmkit_campaigns.tables import recipients

TEMPLATE = "Hello {{ name }}, spring is here: https://shop.example.com/spring"


def recipient_rows(crm, name: str) -> dict[str, tuple]:
    """``external id → (status, reason, holdout, variant)`` of the campaign's recipients."""
    with crm.read() as conn:
        rows = conn.execute(
            select(customers.c.external_id, recipients.c.status, recipients.c.reason,
                   recipients.c.holdout, recipients.c.variant)
            .join_from(recipients, customers, customers.c.id == recipients.c.customer_id)
            .join(campaign_table, campaign_table.c.id == recipients.c.campaign_id)
            .where(campaign_table.c.name == name))
        return {r.external_id: (r.status, r.reason, bool(r.holdout), r.variant) for r in rows}


def within_binomial(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """``count`` is within ``sigmas`` standard deviations of Binomial(n, p)'s mean."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def add_spring(api, **options):
    return api.add("spring", channel="email", condition=NORTH, subject="Spring, {{ name }}",
                   template=TEMPLATE, **options)


def test_a_campaign_plans_exactly_the_consented_uncapped_recipients_once(crm, thousand):
    api = thousand
    api.add("other", channel="email", subject="Other", template="Hi",
            condition={"field": "attributes.slot", "op": "eq", "value": 39})
    assert api.run("other")["planned"] == 25          # they now count against the cap
    add_spring(api, holdout=0.2)
    result = api.run("spring")
    rows = recipient_rows(crm, "spring")
    assert len(rows) == 800 == result["new"]           # the audience, one row each
    assert result["skipped_by_reason"] == SKIPPED
    assert result["skipped"] == sum(SKIPPED.values()) == 375
    assert result["planned"] + result["held_out"] == ELIGIBLE
    assert {x for x, row in rows.items() if row[0] in ("planned", "held_out")} == {
        x for x in rows if eligible(x)}
    for x, (status, reason, holdout, variant) in rows.items():
        assert holdout == (status == "held_out")
        assert (reason is None) == (status != "skipped")
        assert variant is None
    assert within_binomial(result["held_out"], ELIGIBLE, 0.2)
    assert api.show("spring")["status"] == "running"

    again = api.run("spring")                          # re-running plans nothing new
    assert again["new"] == 0
    assert recipient_rows(crm, "spring") == rows


def test_the_holdout_is_a_stable_draw_per_customer(crm, thousand):
    api = thousand
    add_spring(api, holdout=0.3)
    api.run("spring")
    first = recipient_rows(crm, "spring")
    held = {x for x, row in first.items() if row[0] == "held_out"}
    assert within_binomial(len(held), ELIGIBLE, 0.3)
    with crm.transaction() as tx:                      # plan it from scratch: the same draw
        tx.conn.execute(delete(recipients))
    assert api.run("spring")["new"] == 800
    assert recipient_rows(crm, "spring") == first
    # a new audience member is planned by the next run; the others stay as they were
    crm.customers.add("C9999", email="c9999@example.com", attributes={"region": "north"})
    crm.customers.set_consent("C9999", "email", True, "signup form")
    assert api.run("spring")["new"] == 1
    assert recipient_rows(crm, "spring")["C9999"][0] in ("planned", "held_out")
    assert {x: r for x, r in recipient_rows(crm, "spring").items() if x != "C9999"} == first


def test_variants_split_the_planned_recipients_by_share(crm, thousand):
    api = thousand
    variants = [api.Variant("A", 0.3, "A: hello {{ name }}", "Version A"),
                api.Variant("B", 0.7, "B: hello {{ name }}", "Version B")]
    add_spring(api, holdout=0.1, variants=variants)
    result = api.run("spring")
    by_variant = result["by_variant"]
    assert sum(by_variant.values()) == result["planned"]
    assert within_binomial(by_variant["A"], result["planned"], 0.3)
    rows = recipient_rows(crm, "spring")
    assert all((row[3] is not None) == (row[0] == "planned") for row in rows.values())


def test_no_cap_configured_and_a_condition_on_customer_columns(crm, clock, campaigns):
    from campaigns_support import build

    api = campaigns({})                                # no frequency caps
    build(crm, clock, count=80)
    api.add("odd", channel="email", subject="Hi", template="Hi",
            condition={"field": "preferred_channel", "op": "eq", "value": "email"})
    result = api.run("odd")
    # preferred email: odd i except r in (3, 13); r = 1 has no email, r % 8 == 0 is never odd,
    # r % 8 == 4 neither: of the 40 odd i in 1..80, 4 prefer sms, 2 have no address
    assert result["new"] == 36
    assert result["skipped_by_reason"] == {"no address": 2}
    assert result["planned"] == 34


def test_a_preferred_channel_or_consent_typed_in_capitals_is_the_channel(crm, campaigns):
    """``Email`` (a form's spelling) is the channel ``email``: the customer who prefers it
    and consented on it is planned; one who withdrew on ``EMAIL`` is skipped for consent."""
    api = campaigns({})
    crm.plugins.configure_core({**crm.core_config, "public_url": PUBLIC_URL})
    crm.customers.add_many([{"external_id": ref, "email": f"{ref.lower()}@example.com",
                             "preferred_channel": "Email"} for ref in ("K1", "K2")])
    for ref, decisions in (("K1", [("Email", True)]), ("K2", [("email", True),
                                                              ("EMAIL", False)])):
        for channel, granted in decisions:
            crm.customers.set_consent(ref, channel, granted, "web form")
    api.add("caps", channel="email", subject="Hi", template="Hi",
            condition={"field": "external_id", "op": "in", "value": ["K1", "K2"]})
    result = api.run("caps")
    assert {ref: row[:2] for ref, row in recipient_rows(crm, "caps").items()} == {
        "K1": ("planned", None), "K2": ("skipped", "consent withdrawn")}
    assert result["planned"] == 1


def test_a_given_seed_gives_the_same_draws(crm, thousand):
    api = thousand
    crm.plugins.configure("campaigns", {})             # no cap: "one" does not cap "two"
    for name in ("one", "two"):
        api.add(name, channel="email", condition=NORTH, subject="Hi", template="Hi",
                holdout=0.5, seed=12345)
        api.run(name)
    assert recipient_rows(crm, "one") == recipient_rows(crm, "two")
