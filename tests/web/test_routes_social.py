"""social's routes: identities, mentions (import and list), sentiment, referrals; permissions.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crmkit.devtools.testing import api_client, api_pages
from crmkit_social.tables import mentions
from web_support import problem

API = "/api/v1/social"


@pytest.fixture
def social(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1", "Alice")
    crm.customers.add("C2", "Bob")
    return crm


@pytest.fixture
def agent(social):
    with api_client(social, role="agent") as client:
        yield client


def stored_mentions(crm) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(mentions)).scalar_one()


def test_link_list_and_unlink_identities(agent, social):
    linked = agent.post(f"{API}/customers/C1/identities",
                        json={"platform": "Twitter", "handle": "@Alice"})
    assert linked.status_code == 201, linked.text
    assert linked.json() == {"linked": True, "identities": [
        {"id": 1, "customer": "C1", "platform": "twitter", "handle": "alice",
         "linked_at": "2025-01-01T12:00:00+00:00"}]}
    again = agent.post(f"{API}/customers/C1/identities",
                       json={"platform": "twitter", "handle": "alice"})
    assert again.json()["linked"] is False
    taken = problem(agent.post(f"{API}/customers/C2/identities",
                               json={"platform": "twitter", "handle": "alice"}), 409)
    assert "'C1'" in taken["detail"]
    assert [i["customer"] for i in agent.get(f"{API}/identities").json()["items"]] == ["C1"]
    assert agent.get(f"{API}/identities", params={"customer": "C2"}).json() == {
        "items": [], "next_cursor": None}
    unlinked = agent.delete(f"{API}/customers/C1/identities/twitter/alice")
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json() == {"identities": []}
    assert social.plugin("social").owner("twitter", "alice") is None


def test_identities_are_answered_a_page_at_a_time_by_customer_then_link_order(agent, social):
    api = social.plugin("social")
    for customer, platform, handle in (("C2", "x", "bob"), ("C1", "x", "zed"),
                                       ("C1", "instagram", "amy"), ("C2", "mastodon", "bo"),
                                       ("C1", "x", "abe")):
        api.link_handle(customer, platform, handle)
    everyone = [(i["customer"], i["handle"]) for i in api.identities()]
    assert everyone == [("C1", "zed"), ("C1", "amy"), ("C1", "abe"), ("C2", "bob"),
                        ("C2", "bo")]
    pages = api_pages(agent, f"{API}/identities", {"limit": 2})
    assert [[(i["customer"], i["handle"]) for i in page] for page in pages] == [
        everyone[:2], everyone[2:4], everyone[4:]]
    assert [[i["handle"] for i in page] for page in api_pages(
        agent, f"{API}/identities", {"limit": 1, "customer": "C2"})] == [["bob"], ["bo"]]
    for params in ({"limit": 1001}, {"cursor": "MTI"},  # 12: not a position
                   {"cursor": "WyJDMSIsICIyIl0"}):  # ["C1", "2"]: the id is not a number
        assert problem(agent.get(f"{API}/identities", params=params), 422), params


def test_import_and_list_mentions(agent, social):
    social.plugin("social").link_handle("C1", "twitter", "alice")
    answer = agent.post(f"{API}/mentions", json=[
        {"platform": "twitter", "post_id": "p1", "handle": "@alice",
         "text": "I love this shop, great service", "posted_at": "2024-12-30", "likes": 3},
        {"platform": "twitter", "post_id": "p2", "handle": "@nobody",
         "text": "This is the worst service ever", "posted_at": "2024-12-31"}])
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"read": 2, "created": 2, "updated": 0, "unchanged": 0, "alerts": 0}
    # the same post again, with more likes: updated, never duplicated
    one = agent.post(f"{API}/mentions", json={
        "platform": "twitter", "post_id": "p1", "handle": "@alice",
        "text": "I love this shop, great service", "posted_at": "2024-12-30", "likes": 5})
    assert one.json() == {"read": 1, "created": 0, "updated": 1, "unchanged": 0, "alerts": 0}
    listed = agent.get(f"{API}/mentions").json()
    assert [(m["post_id"], m["customer"], m["likes"], m["label"]) for m in listed] == [
        ("p2", None, 0, "negative"), ("p1", "C1", 5, "positive")]
    assert all("external_id" not in m and "customer_id" not in m for m in listed)
    assert [m["post_id"] for m in agent.get(f"{API}/mentions",
                                            params={"customer": "C1"}).json()] == ["p1"]
    assert [m["post_id"] for m in agent.get(f"{API}/mentions",
                                            params={"label": "negative"}).json()] == ["p2"]
    summary = agent.get(f"{API}/sentiment").json()
    assert {k: summary[k] for k in ("mentions", "positive", "neutral", "negative",
                                    "unscored")} == {
        "mentions": 2, "positive": 1, "neutral": 0, "negative": 1, "unscored": 0}
    assert agent.get(f"{API}/sentiment", params={"since": "2024-12-31"}).json()["mentions"] == 1


def test_a_bad_mention_rejects_the_whole_request_naming_its_pointer(agent, social):
    bad = problem(agent.post(f"{API}/mentions", json=[
        {"platform": "twitter", "post_id": "p1", "handle": "@alice", "posted_at": "2024-12-30"},
        {"platform": "twitter", "post_id": "p2", "handle": "@bob", "posted_at": "yesterday"}]),
        422)
    assert [e["pointer"] for e in bad["errors"]] == ["/1/posted_at"]
    assert bad["detail"].startswith("row 2: posted_at: ")
    bad = problem(agent.post(f"{API}/mentions", json={"platform": "twitter", "post_id": "p3",
                                                      "handle": "@bob"}), 422)
    assert bad["errors"] == [{"pointer": "/posted_at", "detail": "required"}]
    assert bad["detail"] == "posted_at: required"  # one mention: no row label
    bad = problem(agent.post(f"{API}/mentions", json={"platform": "twitter", "post_id": "p3",
                                                      "handle": "@bob", "posted_at": "2024-12-30",
                                                      "likes": -1}), 422)
    assert bad["detail"] == "likes: -1 is not a whole number from 0 to 2147483647"
    problem(agent.post(f"{API}/mentions", json=[]), 422)
    assert stored_mentions(social) == 0


def test_referrals(agent, social):
    code = agent.post(f"{API}/customers/C1/referral-code")
    assert code.status_code == 200, code.text
    assert agent.post(f"{API}/customers/C1/referral-code").json() == code.json()
    social.customers.add("C3", "Cleo")
    redeemed = agent.post(f"{API}/referrals", json={"code": code.json()["code"],
                                                   "referee": "C3"})
    assert redeemed.status_code == 201, redeemed.text
    assert {k: redeemed.json()[k] for k in ("referrer", "referee", "redeemed_at", "converted")} \
        == {"referrer": "C1", "referee": "C3", "redeemed_at": "2025-01-01T12:00:00+00:00",
            "converted": False}
    assert agent.get(f"{API}/referrals").json() == {"items": [redeemed.json()],
                                                    "next_cursor": None}
    problem(agent.post(f"{API}/referrals", json={"code": code.json()["code"], "referee": "C1"}),
            422)
    assert len(social.plugin("social").referrals()) == 1


def test_a_viewer_reads_but_may_not_link(social):
    with api_client(social, role="viewer") as viewer:
        assert viewer.get(f"{API}/identities").json() == {"items": [], "next_cursor": None}
        refused = problem(viewer.post(f"{API}/customers/C1/identities",
                                      json={"platform": "twitter", "handle": "alice"}), 403)
    assert "social.write" in refused["detail"]
    assert social.plugin("social").identities() == []
