"""idic — per-customer progress 0–4 and the report."""

from __future__ import annotations

import datetime as dt

import pytest

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def staged(icrm, clock):
    """Five customers at known stages (worked out by hand in each test)."""
    clock.set(NOW - dt.timedelta(days=200))
    icrm.customers.add_many([
        {"external_id": "A", "email": "a@x.example", "attributes": {"test_clv": 900}},
        {"external_id": "B", "phone": "+44 20 7946 0001"},
        {"external_id": "C"},
        {"external_id": "D", "email": "d@x.example"},
    ])
    icrm.interactions.record_many([
        {"customer": "A", "occurred_at": NOW - dt.timedelta(days=10), "kind": "visit"},
        {"customer": "C", "occurred_at": NOW - dt.timedelta(days=30), "kind": "visit"},
        {"customer": "D", "occurred_at": NOW - dt.timedelta(days=100), "kind": "visit"},
    ])
    clock.set(NOW - dt.timedelta(days=1))
    api = icrm.plugin("idic")
    api.differentiate()                                  # n = 4: one MVC (A), the rest maintain
    api.add_treatment("vip-desk", "MVC", "service_level", "named account manager",
                      holdout_share=0.0)
    clock.set(NOW)
    icrm.customers.add("E", email="e@x.example")        # after the run: not differentiated
    return icrm


def test_progress_per_customer(staged):
    got = {p.customer: (p.identified, p.differentiated, p.interacted, p.customised, p.score)
           for p in staged.plugin("idic").progress_list()}
    assert got == {
        "A": (True, True, True, True, 4),
        "B": (True, True, False, False, 2),
        "C": (False, True, True, False, 2),
        "D": (True, True, False, False, 2),              # its visit is 100 days ago > 90
        "E": (True, False, False, False, 1),
    }
    assert staged.plugin("idic").progress("C").score == 2


def test_report_counts(staged):
    report = staged.plugin("idic").report()
    assert report["progress"] == {
        "customers": 5,
        "steps": {"identified": 4, "differentiated": 4, "interacted": 2, "customised": 1},
        "progress": {"0": 0, "1": 1, "2": 3, "3": 0, "4": 1},
        "mean_progress": round((1 + 2 * 3 + 4) / 5, 2),
    }
    assert report["differentiate"]["value_groups"] == {"MVC": 1, "MGC": 0, "BZ": 0, "maintain": 3}
    assert report["identify"] == {"interactions": 3, "identified": 2, "identification_rate": 0.6667}
    assert report["customise"] == [{"treatment": "vip-desk", "group": "MVC",
                                    "type": "service_level", "treated": 1, "held_out": 0,
                                    "running": True}]


def test_interact_days_default_changes_progress(staged):
    staged.plugins.configure("idic", {"interact_days": 120})
    assert staged.plugin("idic").progress("D").score == 3
    dist = staged.plugin("idic").report()["progress"]["progress"]
    assert dist == {"0": 0, "1": 1, "2": 2, "3": 1, "4": 1}


def test_progress_as_of_an_earlier_date(staged):
    # before the run and the treatment, 150 days before NOW: only identification (no
    # interaction falls within the 90 days before that date)
    earlier = staged.plugin("idic").report(as_of=NOW - dt.timedelta(days=150))["progress"]
    assert earlier["steps"] == {"identified": 3, "differentiated": 0, "interacted": 0,
                                "customised": 0}
    assert earlier["customers"] == 4
