"""operational's part of the customer timeline, the event log (the record each event is about),
merge, privacy export and erasure."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import select

from crmkit.models import Event
from crmkit.transaction import ReadContext
from crmkit_operational import tables as op_tables

UTC = dt.timezone.utc
MANUAL = {"assignment": {"assign_leads_on": "never"}, "cases": {"team": None},
          "scoring": {"rules": [{"match": {"kind": "visit"}, "weight": 10}], "mql_threshold": 1000}}


def rows_of(crm, customer_id: int) -> dict[str, int]:
    with crm.read() as conn:
        return {t.name: len(conn.execute(select(t).where(t.c.customer_id == customer_id)).all())
                for t in op_tables.ALL if "customer_id" in t.c}


def populate(crm, clock, api, ext: str, subject: str) -> int:
    customer = crm.customers.get(ext)
    crm.interactions.record(ext, clock.now(), kind="visit")
    api.create_opportunity(ext, f"Deal for {subject}", "250.00")
    api.create_task(ext, f"Call {subject}", None, clock.now() + dt.timedelta(days=1))
    api.open_case(ext, f"{subject} cannot log in")
    api.assign_to_team("sales", customer.id, f"Lead {subject}")
    return customer.id


def test_timeline_shows_stages_tasks_and_cases(crm, clock, operational):
    api = operational(MANUAL)
    crm.customers.add("C1", "Ada Lovelace")
    populate(crm, clock, api, "C1", "Ada")
    entries = [e for e in crm.customers.timeline("C1") if e.source == "operational"]
    summaries = [e.summary for e in entries]
    assert any(s.startswith("lead: lead → sql") for s in summaries)
    assert any(s.startswith("opportunity ") and "entered at qualification" in s for s in summaries)
    assert any(s == "task 1 (manual): Call Ada — open" for s in summaries)
    assert any(s == "case 1 (normal): Ada cannot log in — opened" for s in summaries)


def event_resources(crm, events: list[Event]) -> list[dict | None]:
    """operational's ``crmkit_event_resources`` answer for ``events``."""
    with crm.read() as conn:
        return crm.hooks.call_one("operational", "crmkit_event_resources",
                                  ReadContext(crm, conn), events=events)


def test_each_event_names_the_lead_opportunity_task_or_case_it_is_about_as_it_is_now(
        crm, clock, operational, statements):
    """A lead's events (its customer's now: a merge moves them with the lead) the owner of
    the lead, an opportunity's its owner, a task's or case's its assignee, as they are now;
    an event about no record, a record that is gone or a malformed id, None.  One query per
    table for them all."""
    api = operational(MANUAL)
    crm.staff.add("ana", "Ana", "support")  # team sales has nobody: assignment.failed
    crm.staff.add("bo", "Bo", "south")
    crm.customers.add("KEEP", "Ada")
    crm.customers.add("DUP", "Ada L")
    crm.customers.add("C3", "Cal", lifecycle_stage="active")  # a client: no lead
    keep, c3 = crm.customers.get("KEEP").id, crm.customers.get("C3").id
    populate(crm, clock, api, "DUP", "Ada")  # opportunity 1, task 1, case 1 (nobody's)
    assert api.assign_lead("DUP", team="south") == "bo"
    anas = api.create_task("C3", "Ring Cal", "ana", clock.now())
    crm.customers.merge("KEEP", "DUP")  # KEEP had no owner: the lead is bo's
    stored = crm.events.list(limit=None)
    by_type: dict[tuple, Event] = {}  # the first of each type
    for event in stored:
        by_type.setdefault((event.type, event.payload.get("entity")), event)
    opportunity = by_type["stage.changed", "opportunity"]
    made = [Event(id=100, type=name, customer_id=customer, occurred_at=clock.now(),
                  source="operational", payload=payload)
            for name, customer, payload in (
                ("message.queued", keep, {"message_id": 1, "channel": "email", "rule": "r"}),
                ("message.queued", c3, {"message_id": 2, "channel": "email", "rule": "r"}),
                ("task.closed", c3, {"task_id": anas, "status": "done"}),
                ("task.closed", c3, {"task_id": 99, "status": "done"}),
                ("task.closed", c3, {"task_id": str(anas), "status": "done"}),
                ("case.status_changed", keep, {"case_id": 1, "from": "open", "to": "closed"}))]
    events = [by_type["stage.changed", "lead"], by_type["lead.assigned", None], opportunity,
              by_type["task.created", None], by_type["case.opened", None],
              by_type["assignment.failed", None], *made]
    assert by_type["lead.assigned", None].customer_id == keep
    with statements(crm.engine, "operational_") as seen:
        found = event_resources(crm, events)
    assert len(seen) == 4  # leads, opportunities, tasks, cases
    assert found == [
        {"owner": "bo"}, {"owner": "bo"}, {"owner": None}, {"owner": None}, {"owner": None},
        None, {"owner": "bo"}, None, {"owner": "ana"}, None, None, {"owner": None}]
    with crm.transaction() as tx:
        tx.conn.execute(op_tables.opportunities.update().values(owner="ana"))
    assert event_resources(crm, [opportunity]) == [{"owner": "ana"}]


def test_merge_moves_every_row_and_combines_the_leads(crm, clock, operational):
    api = operational(MANUAL)
    crm.customers.add("KEEP", "Ada")
    crm.customers.add("DUP", "Ada L")
    keep_id = crm.customers.get("KEEP").id
    dup_id = populate(crm, clock, api, "DUP", "Ada")
    crm.interactions.record("KEEP", clock.now() - dt.timedelta(days=30), kind="visit")
    assert (api.lead("KEEP")["stage"], api.lead("KEEP")["score"]) == ("lead", Decimal("5.00"))
    assert (api.lead("DUP")["stage"], api.lead("DUP")["score"]) == ("sql", Decimal("10.00"))
    moved = rows_of(crm, dup_id)
    crm.customers.merge("KEEP", "DUP")
    assert set(rows_of(crm, dup_id).values()) == {0}
    after = rows_of(crm, keep_id)
    assert after["operational_opportunities"] == moved["operational_opportunities"] == 1
    assert after["operational_cases"] == 1 and after["operational_tasks"] == 1
    lead = api.lead("KEEP")
    assert (lead["stage"], lead["score"]) == ("sql", Decimal("10.00"))
    assert [h["to_stage"] for h in api.stage_history("lead", keep_id)] == [
        "lead", "lead", "sql"]  # both histories now belong to KEEP


def test_export_holds_every_row_as_json(crm, clock, operational):
    api = operational(MANUAL)
    crm.customers.add("C1", "Ada")
    populate(crm, clock, api, "C1", "Ada")
    document = crm.customers.export_data("C1")
    mine = document["plugins"]["operational"]
    json.dumps(mine)
    assert mine["lead"]["stage"] == "sql"
    assert [o["amount"] for o in mine["opportunities"]] == ["250.0000"]
    assert [t["subject"] for t in mine["tasks"]] == ["Call Ada"]
    assert [c["subject"] for c in mine["cases"]] == ["Ada cannot log in"]
    assert len(mine["stage_history"]) == 3


def test_erase_removes_personal_text_and_keeps_amounts_and_dates(crm, clock, operational):
    api = operational(MANUAL)
    crm.customers.add("C1", "Ada Lovelace", email="ada@example.com")
    cid = populate(crm, clock, api, "C1", "Ada Lovelace")
    crm.customers.erase("C1")
    with crm.read() as conn:
        text = json.dumps([[str(v) for v in r] for t in op_tables.ALL if "customer_id" in t.c
                           for r in conn.execute(select(t).where(t.c.customer_id == cid))])
    assert "Ada" not in text and "Lovelace" not in text
    [opp] = api.opportunities()
    assert (opp["name"], opp["amount"], opp["stage"]) == ("(erased)", Decimal("250.0000"),
                                                          "qualification")
    assert api.cases()[0]["subject"] == "(erased)"
    assert api.tasks()[0]["due_at"] == clock.now() + dt.timedelta(days=1)
