"""The sweep: dormancy tasks, and idempotence of every time-based rule at a fixed clock."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from crmkit_operational import tables as op_tables

UTC = dt.timezone.utc
QUIET = {"assignment": {"assign_leads_on": "never"}, "scoring": {"rules": []},
         "cases": {"team": None}}


def counts(crm) -> dict[str, int]:
    with crm.read() as conn:
        result = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for t in op_tables.ALL}
        result["events"] = len(crm.events.list(limit=None))
        return result


def test_dormant_customers_get_one_task_per_dormancy_spell(crm, clock, operational, staff):
    api = operational(QUIET)
    staff("sales", "ana", "ben")
    crm.customers.add_many([{"external_id": c} for c in ("C1", "C2", "C3", "C4")])
    now = clock.now()
    crm.interactions.record_many([
        {"customer": "C1", "occurred_at": now - dt.timedelta(days=90), "kind": "visit"},
        {"customer": "C2", "occurred_at": now - dt.timedelta(days=89, hours=23), "kind": "visit"},
        {"customer": "C3", "occurred_at": now - dt.timedelta(days=200), "kind": "visit"},
        {"customer": "C3", "occurred_at": now - dt.timedelta(days=10), "kind": "visit"}])
    api.assign_lead("C3", team="sales")  # ana owns C3 (its first-contact task aside)
    assert crm.sweep()["operational"]["dormant_tasks"] == 1  # C4 never interacted: not dormant
    [task] = api.tasks(customer="C1")
    assert (task["kind"], task["assignee"], task["subject"]) == (
        "dormant", "ben", "Re-engage: no interaction since 2024-10-03")
    assert crm.sweep()["operational"]["dormant_tasks"] == 0  # one open task at most
    api.complete_task(task["id"])
    clock.advance(days=81)
    assert crm.sweep()["operational"]["dormant_tasks"] == 2  # C2 and C3 now; C1 already handled
    assert {(t["customer"], t["assignee"]) for t in api.tasks() if t["kind"] == "dormant"} == {
        ("C2", "ana"), ("C3", "ana")}  # C3 to its owner, C2 by round robin
    crm.interactions.record("C1", clock.now(), kind="call")
    clock.advance(days=91)
    api.sweep()
    assert len([t for t in api.tasks(customer="C1", status=None) if t["kind"] == "dormant"]) == 2


def test_dormant_days_default_changes_who_is_dormant(crm, clock, operational):
    api = operational(dict(QUIET, tasks={"dormant_days": 30, "dormant_team": None}))
    crm.customers.add("C1")
    crm.interactions.record("C1", clock.now() - dt.timedelta(days=31), kind="visit")
    api.sweep()
    [task] = api.tasks()
    assert (task["customer"], task["assignee"]) == ("C1", None)


def test_overdue_tasks_and_the_assignee_filter(crm, clock, operational, staff):
    api = operational(QUIET)
    staff("sales", "ana", "ben")
    crm.customers.add("C1")
    t1 = api.create_task("C1", "Send the quote", "ana", clock.now() + dt.timedelta(hours=1))
    t2 = api.create_task("C1", "Call back", "ben", clock.now() + dt.timedelta(hours=3))
    assert api.tasks(overdue=True) == []
    later = clock.now() + dt.timedelta(hours=2)
    assert [t["id"] for t in api.tasks(overdue=True, as_of=later)] == [t1]
    assert [t["id"] for t in api.tasks(assignee="ben")] == [t2]
    api.complete_task(t1)
    assert [t["id"] for t in api.tasks(overdue=True, as_of=later)] == []
    assert [(e.payload["task_id"], e.payload["status"]) for e in crm.events.list(type="task.closed")] \
        == [(t1, "done")]


def test_the_whole_sweep_is_idempotent_at_a_fixed_clock(crm, clock, operational, staff):
    config = dict(QUIET, automation={"rules": [
        {"name": "nudge", "on": "interaction.recorded", "wait_hours": 1,
         "do": [{"create_task": {"subject": "Nudge"}}]}]})
    config["cases"] = {"team": None, "reopen_days": 1}
    api = operational(config)
    crm.customers.add_many([{"external_id": c} for c in ("C1", "C2")])
    crm.interactions.record("C1", clock.now() - dt.timedelta(days=100), kind="visit")
    crm.interactions.record("C2", clock.now(), kind="visit")
    late = api.open_case("C1", "Late", "urgent")
    done = api.open_case("C2", "Done")
    api.move_case(done, "in_progress")
    api.move_case(done, "resolved")
    clock.advance(days=2)
    first = crm.sweep()["operational"]
    assert first == {"cases_closed": 1, "sla_breaches": 2, "dormant_tasks": 1,
                     "rules_fired": 2, "rules_cancelled": 0}
    before = counts(crm)
    second = crm.sweep()["operational"]
    assert set(second.values()) == {0}
    assert counts(crm) == before
    assert api.case(late)["first_response_breached_at"] == clock.now()
