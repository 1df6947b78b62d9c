"""operational's part of the customer timeline, merge, privacy export and erasure."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import select

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
