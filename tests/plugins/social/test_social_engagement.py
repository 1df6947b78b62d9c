"""Engagement per customer, handle and calendar period; weights from the config."""

from __future__ import annotations

import datetime as dt

import pytest

from crmkit.errors import ValidationError

UTC = dt.timezone.utc


def post(post_id, handle, posted_at, likes, comments, shares, platform="twitter"):
    return {"platform": platform, "post_id": post_id, "handle": handle, "text": "hi",
            "posted_at": posted_at, "likes": likes, "comments": comments, "shares": shares}


@pytest.fixture
def social(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1", "Alice")
    crm.customers.add("C2", "Bob")
    api = crm.plugin("social")
    api.link_handle("C1", "twitter", "alice")
    api.link_handle("C1", "instagram", "alice.pics")
    api.link_handle("C2", "twitter", "bob")
    api.import_mentions([
        post("1", "alice", "2024-12-02T09:00:00Z", 10, 2, 1),      # Dec: 10 + 4 + 3 = 17
        post("2", "alice", "2024-12-20T09:00:00Z", 1, 0, 2),       # Dec: 1 + 0 + 6 = 7
        post("3", "alice.pics", "2024-12-05", 4, 1, 0, "instagram"),  # Dec: 4 + 2 = 6
        post("4", "bob", "2024-11-30T23:59:59Z", 3, 3, 3),         # Nov: 3 + 6 + 9 = 18
        post("5", "bob", "2025-01-01T11:00:00Z", 2, 0, 0),         # Jan: 2
        post("6", "bob", "2025-01-01T13:00:00Z", 100, 0, 0),       # after as_of 12:00
        post("7", "stranger", "2024-12-03", 50, 50, 50),           # no customer
    ])
    return crm


def rows(result):
    return [(e.period_start.date().isoformat(), e.external_id, e.platform, e.handle, e.mentions,
             e.engagement) for e in result]


def test_engagement_per_customer_handle_and_month(social):
    api = social.plugin("social")
    assert rows(api.engagement(periods=3)) == [
        ("2024-11-01", "C2", "twitter", "bob", 1, 18),
        ("2024-12-01", "C1", "twitter", "alice", 2, 24),
        ("2024-12-01", "C1", "instagram", "alice.pics", 1, 6),
        ("2025-01-01", "C2", "twitter", "bob", 1, 2),
    ]
    assert rows(api.engagement()) == [("2025-01-01", "C2", "twitter", "bob", 1, 2)]
    later = dt.datetime(2025, 1, 2, tzinfo=UTC)
    assert rows(api.engagement(as_of=later)) == [("2025-01-01", "C2", "twitter", "bob", 2, 102)]
    assert rows(api.engagement(periods=3, customer="C1", period="quarter")) == [
        ("2024-10-01", "C1", "twitter", "alice", 2, 24),
        ("2024-10-01", "C1", "instagram", "alice.pics", 1, 6),
    ]


def test_weeks_start_on_monday(social):
    result = social.plugin("social").engagement(period="week", periods=6)
    assert rows(result) == [
        ("2024-11-25", "C2", "twitter", "bob", 1, 18),
        ("2024-12-02", "C1", "twitter", "alice", 1, 17),
        ("2024-12-02", "C1", "instagram", "alice.pics", 1, 6),
        ("2024-12-16", "C1", "twitter", "alice", 1, 7),
        ("2024-12-30", "C2", "twitter", "bob", 1, 2),
    ]


def test_changing_the_weights_and_default_period(social):
    social.plugins.configure("social", {"engagement_weights": {"likes": 0, "comments": 1,
                                                               "shares": 10},
                                        "engagement_period": "year"})
    result = social.plugin("social").engagement(periods=2)
    assert rows(result) == [
        ("2024-01-01", "C2", "twitter", "bob", 1, 33),    # 3 + 30
        ("2024-01-01", "C1", "twitter", "alice", 2, 32),  # (2 + 10) + (0 + 20)
        ("2024-01-01", "C1", "instagram", "alice.pics", 1, 1),
        ("2025-01-01", "C2", "twitter", "bob", 1, 0),
    ]


def test_bad_period_arguments(social):
    api = social.plugin("social")
    with pytest.raises(ValidationError, match="period: 'fortnight' is not one of day, week"):
        api.engagement(period="fortnight")
    with pytest.raises(ValidationError, match="periods: 0 is not between 1 and 400"):
        api.engagement(periods=0)
