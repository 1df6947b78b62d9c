"""social's part of ``crmkit demo`` on a small sample CRM."""

from __future__ import annotations

import random

from crmkit import demo as sample


def test_demo_adds_handles_mentions_and_referrals(crm):
    crm.plugins.enable("social")
    crm.customers.add_many(sample.customers(random.Random(3), 60))
    lines = crm.hooks.call_one("social", "crmkit_demo", None, crm=crm, rng=random.Random(5))
    api = crm.plugin("social")
    summary = api.sentiment_summary()
    assert lines[0] == "handles linked: 45 customers on twitter, instagram, facebook"
    assert lines[1].startswith(f"mentions imported: 1500 ({summary.positive} positive, "
                               f"{summary.neutral} neutral, {summary.negative} negative")
    assert summary.mentions == 1500 and summary.negative > 0
    alerts = len(crm.events.list(type="social.negative_mention", limit=None))
    assert lines[2] == f"negative-mention events for known customers: {alerts}"
    assert lines[3] == ("referral codes issued: 45; redeemed: 40; converted by a first "
                        "purchase: 25")
    assert len(crm.events.list(type="referral.converted")) == 25
