"""Assignment: round robin with a persisted cursor, smooth weighted round robin, territories, capacity."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from crmkit import CRM

UTC = dt.timezone.utc
MANUAL = {"assignment": {"assign_leads_on": "never"}}


def customers(crm, count: int, prefix: str = "L") -> list[int]:
    crm.customers.add_many([{"external_id": f"{prefix}{i}"} for i in range(count)])
    return [crm.customers.get(f"{prefix}{i}").id for i in range(count)]


def test_round_robin_over_three_gives_a_b_c_a_b_c_a(crm, operational, staff):
    api = operational(MANUAL)
    staff("sales", "a", "b", "c")
    ids = customers(crm, 7)
    assert [api.assign_lead(cid) for cid in ids] == ["a", "b", "c", "a", "b", "c", "a"]
    assert [api.lead(cid)["owner"] for cid in ids] == ["a", "b", "c", "a", "b", "c", "a"]
    # every assigned lead got a first-contact task due within first_contact_hours (24)
    tasks = api.tasks()
    assert [(t["customer"], t["assignee"], t["kind"]) for t in tasks] == [
        (f"L{i}", "abcabca"[i], "first_contact") for i in range(7)]
    assert {t["due_at"] for t in tasks} == {crm.clock.now() + dt.timedelta(hours=24)}


def test_the_cursor_survives_closing_and_reopening(crm_url, clock, crm, operational, staff):
    api = operational(MANUAL)
    staff("sales", "a", "b", "c")
    ids = customers(crm, 7)
    assert [api.assign_lead(cid) for cid in ids[:4]] == ["a", "b", "c", "a"]
    crm.close()
    with CRM.open(crm_url, clock=clock) as again:
        other = again.plugin("operational")
        assert [other.assign_lead(cid) for cid in ids[4:]] == ["b", "c", "a"]


def test_first_contact_hours_default_changes_the_due_time(crm, operational, staff):
    api = operational({"assignment": {"assign_leads_on": "never"}, "tasks": {"first_contact_hours": 2}})
    staff("sales", "a")
    [cid] = customers(crm, 1)
    api.assign_lead(cid)
    assert api.tasks()[0]["due_at"] == crm.clock.now() + dt.timedelta(hours=2)


def test_smooth_weighted_round_robin_five_one_one(crm, operational, staff):
    api = operational({"assignment": {"assign_leads_on": "never", "teams": {
        "sales": {"strategy": "weighted", "weights": {"a": 5, "b": 1, "c": 1}}}}})
    staff("sales", "a", "b", "c")
    ids = customers(crm, 14)
    picks = [api.assign_to_team("sales", cid, "lead") for cid in ids]
    assert picks[:7] == ["a", "a", "b", "a", "c", "a", "a"]  # spread, not a a a a a b c
    assert picks[7:] == picks[:7]
    assert Counter(picks[:7]) == {"a": 5, "b": 1, "c": 1}


def test_capacity_skips_full_members_and_fails_when_everybody_is_full(crm, operational, staff,
                                                                     events):
    api = operational({"assignment": {"assign_leads_on": "never", "capacity": 2}})
    staff("sales", "a", "b")
    ids = customers(crm, 6)
    due = crm.clock.now() + dt.timedelta(days=1)
    api.create_task(ids[0], "existing work", "a", due)
    api.create_task(ids[0], "existing work", "a", due)  # a is full
    assert [api.assign_lead(cid) for cid in ids[:2]] == ["b", "b"]  # first-contact tasks fill b
    assert api.assign_lead(ids[2]) is None
    assert api.lead(ids[2])["owner"] is None
    assert events("assignment.failed", ids[2]) == [{"team": "sales", "subject": "lead"}]
    api.complete_task(api.tasks(assignee="a")[0]["id"])
    assert api.assign_lead(ids[3]) == "a"


def test_no_capacity_by_default(crm, operational, staff):
    api = operational(MANUAL)
    staff("sales", "a")
    ids = customers(crm, 30)
    assert {api.assign_lead(cid) for cid in ids} == {"a"}


def test_a_team_without_staff_fails_with_an_event(crm, operational, events):
    api = operational(MANUAL)
    [cid] = customers(crm, 1)
    assert api.assign_to_team("nobody", cid, "ticket 7") is None
    assert events("assignment.failed") == [{"team": "nobody", "subject": "ticket 7"}]


def test_territories_pick_the_team_then_round_robin_inside_it(crm, operational, staff):
    api = operational({"assignment": {"assign_leads_on": "never", "territories": [
        {"name": "north", "if": {"field": "customer.attributes.region", "op": "in",
                                 "value": ["Scotland", "North"]}, "team": "sales-north"},
        {"name": "big", "if": {"field": "customer.attributes.employees", "op": "ge", "value": 500},
         "team": "enterprise"}]}})
    staff("sales", "s1")
    staff("sales-north", "n1", "n2")
    staff("enterprise", "e1")
    crm.customers.add("A", attributes={"region": "Scotland", "employees": 900})
    crm.customers.add("B", attributes={"region": "South", "employees": 900})
    crm.customers.add("C", attributes={"region": "North"})
    crm.customers.add("D", attributes={"region": "South"})
    assert [api.assign_lead(x) for x in "ABCD"] == ["n1", "e1", "n2", "s1"]


def test_leads_are_assigned_automatically_when_they_qualify(crm, clock, operational, staff, events):
    api = operational({"scoring": {"rules": [{"match": {"kind": "visit"}, "weight": 60}]}})
    staff("sales", "a", "b")
    crm.customers.add_many([{"external_id": "C1"}, {"external_id": "C2"}, {"external_id": "C3"}])
    crm.interactions.record_many([{"customer": c, "occurred_at": clock.now(), "kind": "visit"}
                                  for c in ("C1", "C2")])
    assert [api.lead(c)["owner"] for c in ("C1", "C2", "C3")] == ["a", "b", None]
    assert [p["owner"] for p in events("lead.assigned")] == ["a", "b"]


def test_assign_leads_on_lead_assigns_new_customers(crm, operational, staff):
    api = operational({"assignment": {"assign_leads_on": "lead"}})
    staff("sales", "a", "b")
    crm.customers.add("C1")
    crm.customers.add("C2", lifecycle_stage="customer")  # not a lead
    crm.customers.add("C3", lifecycle_stage="sal")
    assert [api.lead(c) and api.lead(c)["owner"] for c in ("C1", "C2", "C3")] == ["a", None, "b"]


def test_reassigning_a_lead_moves_its_open_first_contact_task(crm, operational, staff):
    api = operational(MANUAL)
    staff("sales", "a")
    staff("key-accounts", "k")
    [cid] = customers(crm, 1)
    assert api.assign_lead(cid) == "a"
    assert api.assign_lead(cid, team="key-accounts") == "k"
    assert [(t["assignee"], t["kind"]) for t in api.tasks()] == [("k", "first_contact")]
