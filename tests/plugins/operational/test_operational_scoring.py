"""Lead scoring: time decay, caps, fit rules, MQL promotion in the react step."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from crmkit_operational.scoring import round_score, score_cents


UTC = dt.timezone.utc
VISITS = {"rules": [{"match": {"kind": "visit"}, "weight": 10, "cap": 10}]}


def days_ago(clock, days: float) -> dt.datetime:
    return clock.now() - dt.timedelta(days=days)


def scoring(**settings) -> dict:
    return {"scoring": {**VISITS, **settings}, "assignment": {"assign_leads_on": "never"}}


def test_one_interaction_thirty_days_old_with_half_life_thirty_scores_five(crm, clock, operational):
    api = operational(scoring())
    crm.customers.add("C1")
    crm.interactions.record("C1", days_ago(clock, 30), kind="visit")
    assert api.lead("C1")["score"] == Decimal("5.00")
    assert api.score("C1") == Decimal("5.00")


def test_half_life_default_changes_the_decay(crm, clock, operational):
    api = operational(scoring(half_life_days=15))
    crm.customers.add("C1")
    crm.interactions.record("C1", days_ago(clock, 30), kind="visit")
    assert api.lead("C1")["score"] == Decimal("2.50")  # 10 x 0.5^(30/15)


def test_only_matching_interactions_and_the_most_recent_cap_count(crm, clock, operational):
    config = scoring()
    config["scoring"]["rules"] = [
        {"match": {"kind": "visit", "channel": "web"}, "weight": 10, "cap": 2},
        {"match": {"kind": "call", "direction": "inbound"}, "weight": 4, "cap": 1}]
    api = operational(config)
    crm.customers.add("C1")
    rows = [
        {"customer": "C1", "occurred_at": days_ago(clock, 0), "kind": "visit", "channel": "web"},
        {"customer": "C1", "occurred_at": days_ago(clock, 30), "kind": "visit", "channel": "web"},
        {"customer": "C1", "occurred_at": days_ago(clock, 60), "kind": "visit", "channel": "web"},
        {"customer": "C1", "occurred_at": days_ago(clock, 0), "kind": "visit", "channel": "store"},
        {"customer": "C1", "occurred_at": days_ago(clock, 30), "kind": "call", "direction": "inbound"},
        {"customer": "C1", "occurred_at": days_ago(clock, 60), "kind": "call", "direction": "inbound"},
        {"customer": "C1", "occurred_at": days_ago(clock, 0), "kind": "call", "direction": "outbound"},
        {"customer": "C1", "occurred_at": days_ago(clock, -5), "kind": "visit", "channel": "web"},
    ]
    crm.interactions.record_many(rows)
    # web visits: the 2 most recent not in the future: 10 x (1 + 0.5) = 15; inbound call cap 1: 4 x 0.5
    assert api.lead("C1")["score"] == Decimal("17.00")


def test_max_score_caps_and_scores_round_half_up(crm, clock, operational):
    api = operational(scoring(max_score=12, mql_threshold=1000))
    crm.customers.add_many([{"external_id": "C1"}, {"external_id": "C2"}])
    crm.interactions.record_many([{"customer": "C1", "occurred_at": days_ago(clock, d), "kind": "visit"}
                                  for d in (0, 1, 2)])
    crm.interactions.record("C2", days_ago(clock, 10), kind="visit")
    assert api.lead("C1")["score"] == Decimal("12.00")
    # 10 x 0.5^(10/30) = 7.937005... -> 7.94
    assert api.lead("C2")["score"] == Decimal("7.94")


def test_fit_rules_add_points_by_attribute_type(crm, clock, operational):
    config = scoring(fit=[
        {"attribute": "industry", "op": "eq", "value": "software", "points": 20},
        {"attribute": "employees", "op": "ge", "value": 50, "points": 15},
        {"attribute": "country", "op": "in", "value": ["UK", "IE"], "points": 5},
        {"attribute": "products", "op": "contains", "value": "crm", "points": 7},
    ], mql_threshold=1000)
    api = operational(config)
    crm.customers.add("C1", attributes={"industry": "software", "employees": 120, "country": "UK",
                                        "products": ["crm", "erp"]})
    crm.customers.add("C2", attributes={"industry": "retail", "employees": "many",
                                        "products": "old crm suite"})
    crm.customers.add("C3")
    assert api.lead("C1")["score"] == Decimal("47.00")
    assert api.lead("C2")["score"] == Decimal("7.00")  # substring; 'many' is not a number
    assert api.lead("C3")["score"] == Decimal("0.00")
    crm.customers.update("C3", attributes={"employees": 50})
    assert api.lead("C3")["score"] == Decimal("15.00")  # rescored on customer.updated


def test_crossing_the_threshold_promotes_to_mql_once_and_emits_lead_qualified(
        crm, clock, operational, events):
    api = operational(scoring(mql_threshold=25))
    c1 = crm.customers.add("C1")
    crm.interactions.record("C1", days_ago(clock, 0), kind="visit")
    crm.interactions.record("C1", days_ago(clock, 0), kind="visit")
    assert api.lead("C1")["stage"] == "lead" and api.lead("C1")["score"] == Decimal("20.00")
    assert events("lead.qualified") == []
    crm.interactions.record("C1", days_ago(clock, 0), kind="visit")
    assert api.lead("C1")["stage"] == "mql"
    assert events("lead.qualified", c1.id) == [{"score": "30.00", "threshold": "25"}]
    crm.interactions.record("C1", days_ago(clock, 0), kind="visit")
    clock.advance(days=400)
    crm.interactions.record("C1", clock.now(), kind="visit")
    lead = api.lead("C1")
    assert lead["stage"] == "mql" and lead["score"] == Decimal("10.00")  # decayed, not demoted
    assert len(events("lead.qualified")) == 1
    moves = [(p["from"], p["to"]) for p in events("stage.changed", c1.id)]
    assert moves == [(None, "lead"), ("lead", "mql")]
    assert [(h["from_stage"], h["to_stage"]) for h in api.stage_history("lead", c1.id)] == moves


def test_default_threshold_sixty(crm, clock, operational):
    api = operational(scoring())
    crm.customers.add("C1")
    crm.interactions.record_many([{"customer": "C1", "occurred_at": clock.now(), "kind": "visit"}] * 5
                                 + [{"customer": "C1", "occurred_at": clock.now(), "kind": "visit",
                                     "channel": "web"}])
    assert api.lead("C1")["stage"] == "mql"  # 60 reaches the default threshold 60


def test_rescore_recomputes_everything_as_of_a_date(crm, clock, operational):
    api = operational(scoring(mql_threshold=1000))
    crm.customers.add("C1")
    crm.interactions.record("C1", days_ago(clock, 0), kind="visit")
    assert api.lead("C1")["score"] == Decimal("10.00")
    scored, promoted = api.rescore(clock.now() + dt.timedelta(days=60))
    assert (scored, promoted) == (1, [])
    assert api.lead("C1")["score"] == Decimal("2.50")


def test_who_enters_the_funnel(crm, clock, operational):
    api = operational(scoring())
    crm.customers.add("C1")
    crm.customers.add("C2", lifecycle_stage="sal")
    crm.customers.add("C3", lifecycle_stage="customer")
    assert api.lead("C1")["stage"] == "lead"
    assert api.lead("C2")["stage"] == "sal"
    assert api.lead("C3") is None
    crm.interactions.record("C3", clock.now(), kind="visit")
    assert api.lead("C3") is None  # not a lead: not scored


def test_new_customers_are_leads_can_be_switched_off(crm, clock, operational):
    config = scoring()
    config["funnel"] = {"new_customers_are_leads": False}
    api = operational(config)
    crm.customers.add("C1")
    crm.customers.add("C2", lifecycle_stage="lead")
    assert api.lead("C1") is None and api.lead("C2")["stage"] == "lead"


def test_a_customer_existing_before_enabling_enters_on_its_next_interaction(crm, clock, operational):
    crm.customers.add("C1")
    api = operational(scoring())
    assert api.lead("C1") is None
    crm.interactions.record("C1", clock.now(), kind="visit")
    assert api.lead("C1")["score"] == Decimal("10.00")


def test_scoring_is_set_based_over_a_batch(crm, clock, operational):
    api = operational(scoring(mql_threshold=20))
    crm.customers.add_many([{"external_id": f"C{i}"} for i in range(50)])
    rows = [{"customer": f"C{i}", "occurred_at": days_ago(clock, 30), "kind": "visit"}
            for i in range(50) for _ in range(i % 5)]
    crm.interactions.record_many(rows)
    got = {s["customer"]: s["score"] for s in api.scores(limit=None)}
    assert all(got[f"C{i}"] == Decimal(5 * (i % 5)).quantize(Decimal("0.01")) for i in range(50))
    assert {s["customer"] for s in api.scores(stage="mql", limit=None)} == {
        f"C{i}" for i in range(50) if i % 5 == 4}


@given(st.lists(st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    # decimal half-cent ties (1.005, -2.675 …) whose floats sit on either side of the tie
    st.integers(-10**8, 10**8).map(lambda n: float(Decimal(n * 10 + 5).scaleb(-3))),
    st.integers(-10**6, 10**6).map(lambda n: n / 100)), max_size=50),
    st.sampled_from([100.0, 1e9, 0.5]))
def test_vectorised_score_rounding_equals_the_decimal_rounding(raw, max_score):
    got = score_cents(np.array(raw, float), max_score).tolist()
    assert got == [int(round_score(x, max_score) * 100) for x in raw]
