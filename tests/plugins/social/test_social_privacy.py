"""social's timeline, merge, export and erase hooks through the core's customer services."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crmkit_social.tables import identities, mentions, referral_codes, referrals

POST = {"platform": "twitter", "post_id": "p1", "handle": "@alice",
        "text": "This is the worst service ever", "posted_at": "2024-12-31", "likes": 4}


@pytest.fixture
def social(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1", "Alice", email="alice@example.com")
    crm.customers.add("C2", "Alice Dup")
    crm.customers.add("C3", "Carl")
    api = crm.plugin("social")
    api.link_handle("C1", "twitter", "alice")
    api.link_handle("C2", "instagram", "alice_dup")
    api.import_mentions([POST, dict(POST, post_id="p2", platform="instagram",
                                    handle="alice_dup", text="I love this!")])
    return crm


def test_timeline_lists_handles_mentions_and_referrals(social):
    api = social.plugin("social")
    api.redeem_referral(api.referral_code("C1"), "C3")
    entries = [(e.kind, e.summary) for e in social.customers.timeline("C1")
               if e.source == "social"]
    assert ("mention", "twitter mention by @alice, negative (-0.62): This is the worst service "
                       "ever") in entries
    assert ("identity", "twitter handle @alice linked") in entries
    assert ("referral_code", "referral code issued") in entries
    c3 = social.customers.get("C3").id
    assert ("referral", f"referred customer #{c3} (code redeemed)") in entries


def test_merge_moves_handles_mentions_codes_and_referrals(social, clock):
    api = social.plugin("social")
    c1, c2 = social.customers.get("C1").id, social.customers.get("C2").id
    code2 = api.referral_code("C2")
    social.customers.add("C4")
    api.redeem_referral(code2, "C4")
    api.redeem_referral(api.referral_code("C3"), "C1")
    api.redeem_referral(api.referral_code("C4"), "C2")  # later: dropped, C1 was referred first
    social.customers.merge("C1", "C2")
    assert sorted(p for _, p, _ in api.handles(c1)) == ["instagram", "twitter"]
    with social.read() as conn:
        for table, column in ((identities, "customer_id"), (mentions, "customer_id"),
                              (referral_codes, "customer_id"), (referrals, "referrer_id"),
                              (referrals, "referee_id")):
            assert conn.execute(select(table).where(table.c[column] == c2)).first() is None
        assert conn.execute(select(referral_codes.c.code)
                            .where(referral_codes.c.customer_id == c1)).scalars().all() == [code2]
    assert [(r["referrer"], r["referee"]) for r in api.referrals()] == [("C1", "C4"),
                                                                        ("C3", "C1")]


def test_merge_drops_a_referral_that_became_a_self_referral(social):
    api = social.plugin("social")
    api.redeem_referral(api.referral_code("C1"), "C2")
    social.customers.merge("C1", "C2")
    assert api.referrals() == []


def test_export_then_erase_keeps_numbers_and_a_reimport_brings_nothing_back(social):
    api = social.plugin("social")
    code = api.referral_code("C1")
    api.redeem_referral(code, "C3")
    exported = social.customers.export_data("C1")["plugins"]["social"]
    assert exported["identities"][0]["handle"] == "alice"
    assert [m["text"] for m in exported["mentions"]] == ["This is the worst service ever"]
    assert exported["referral_codes"][0]["code"] == code
    social.customers.erase("C1")
    with social.read() as conn:
        rows = conn.execute(select(mentions).where(mentions.c.platform == "twitter")).mappings().all()
        assert conn.execute(select(identities).where(identities.c.handle == "alice")).first() is None
        assert conn.execute(select(referral_codes.c.code)
                            .where(referral_codes.c.code == code)).first() is None
        assert conn.execute(select(referrals.c.code)).scalars().all() == [None]
    [row] = rows
    assert (row["text"], row["handle"], row["likes"], row["sentiment"]) == (None, "(erased)", 4,
                                                                           -0.6249)
    assert row["post_id"].startswith("erased:") and "p1" not in row["post_id"]
    result = api.import_mentions([dict(POST, likes=9)])
    assert (result.created, result.updated) == (0, 1)
    [again] = api.mentions(label="negative")
    assert (again.text, again.handle, again.likes) == (None, "(erased)", 9)
