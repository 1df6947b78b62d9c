"""collaborative's timeline, merge, export and erase hooks through the core's customer services."""

from __future__ import annotations

from collaborative_support import setup_people
from sqlalchemy import func, select

from crmkit_collaborative.tables import contacts, handoffs, history, work_items


def busy_customer(crm, clock, customer="C2"):
    """A complaint handed to billing with a note, and an outbound contact with an override."""
    api = crm.plugin("collaborative")
    crm.interactions.record(customer, clock.now(), kind="complaint", channel="email")
    [item] = api.items_of(customer)
    clock.advance(minutes=5)
    api.hand_off(item.id, "billing", "Bob says card 4242 was charged twice")
    clock.advance(minutes=5)
    crm.customers.set_consent(customer, "email", True, "form")
    api.contact(customer, "Refund for Bob", channel="email", override_reason="Bob asked by email")
    return item.id


def test_timeline_shows_routing_hand_offs_and_contacts(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    item = busy_customer(crm, clock)
    entries = [e for e in crm.customers.timeline("C2") if e.source == "collaborative"]
    assert [e.kind for e in entries] == ["contact", "handoff", "work_item"]
    assert entries[0].summary == ("contacted on email instead of preferred sms (Bob asked by "
                                  "email) by system: Refund for Bob")
    assert entries[1].summary.startswith(f"work item {item} handed off support → billing by "
                                         "system: Bob says card 4242 was charged twice "
                                         "(acknowledge by 2025-01-01 16:05 UTC)")
    assert entries[2].summary == (f"work item {item} (complaint via email) routed by rule "
                                  "'complaints'; now queued in billing")


def test_merge_moves_every_row_to_the_kept_customer(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    busy_customer(crm, clock, "C2")
    crm.interactions.record("C3", clock.now(), kind="call", channel="phone")
    dup = crm.customers.get("C2").id
    keep = crm.customers.get("C3").id
    crm.customers.merge("C3", "C2")
    with crm.read() as conn:
        for table in (work_items, handoffs, history, contacts):
            assert conn.execute(select(func.count()).select_from(table)
                                .where(table.c.customer_id == dup)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(table)
                                .where(table.c.customer_id == keep)).scalar() > 0
    assert len(crm.plugin("collaborative").items_of("C3")) == 2


def test_export_and_erase(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    item = busy_customer(crm, clock)
    exported = crm.customers.export_data("C2")
    mine = exported["plugins"]["collaborative"]
    assert [h["note"] for h in mine["handoffs"]] == ["Bob says card 4242 was charged twice"]
    assert [c["override_reason"] for c in mine["contacts"]] == ["Bob asked by email"]
    assert [w["id"] for w in mine["work_items"]] == [item]
    crm.customers.erase("C2")
    with crm.read() as conn:
        notes = conn.execute(select(handoffs.c.note, handoffs.c.at, handoffs.c.to_team)).all()
        sent = conn.execute(select(contacts.c.subject, contacts.c.override_reason,
                                   contacts.c.channel, contacts.c.at)).all()
    assert [(n.note, n.to_team) for n in notes] == [("(erased)", "billing")]
    assert notes[0].at is not None
    assert [(s.subject, s.override_reason, s.channel) for s in sent] == [
        ("(erased)", "(erased)", "email")]
    assert crm.plugin("collaborative").work_item(item).team == "billing"  # workload still adds up
