"""Erase and merge with every installed plugin enabled (and the vendor test plugin).

The privacy and merge guarantees are the core's, but they hold only if every
plugin's hooks do their part: these tests run the whole set together.
"""

from __future__ import annotations

import datetime as dt

import crmkit_testvendor
import pytest
from test_services_merge import rows_pointing_at
from test_services_privacy import scan

from crmkit import CRM, plugins

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 11, 1, 10, tzinfo=UTC)
NAME, EMAIL, PHONE, HANDLE = "Grace Hopper", "grace.hopper@example.com", "+44 20 7946 0777", \
    "@amazing_grace"


@pytest.fixture
def everything(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"testvendor": crmkit_testvendor}) as crm:
        statuses = {s.name: s for s in crm.plugins.list() if s.status != "broken"}
        infos = {name: crm.installed[name].info for name in statuses}
        for name in plugins.dependency_order(infos):
            if not all(r in crm.enabled_plugins() for r in infos[name].requires):
                continue
            try:
                crm.plugins.enable(name)
            except Exception as exc:  # another plugin's own bug must not hide ours
                print(f"could not enable {name}: {exc}")
        print("enabled:", ", ".join(crm.enabled_plugins()))
        assert "testvendor" in crm.enabled_plugins()
        crm.staff.add("ana", "Ana Costa", "sales")
        crm.staff.add("dee", "Dee Patel", "support")
        if "catalogue" in crm.enabled_plugins():  # the product the purchases' line items name
            crm.plugin("catalogue").add_products([{
                "sku": "COBOL-1", "name": "COBOL book", "category": "books",
                "list_price": "250.00", "unit_cost": "100.00"}])
        yield crm


def grace(crm, external_id: str, email: str = EMAIL) -> None:
    crm.customers.add(external_id, NAME, email=email, phone=PHONE, preferred_channel="email",
                      tags=["vip"], attributes={"nickname": "Amazing Grace"})
    crm.customers.set_consent(external_id, "email", True, "web form")
    crm.interactions.record_many([
        {"customer": external_id, "occurred_at": T0, "amount": "250.00", "channel": "web",
         "external_id": f"{external_id}-o1",
         "payload": {"items": [{"sku": "COBOL-1", "category": "books", "qty": 1,
                                "unit_price": "250.00", "amount": "250.00"}]}},
        {"customer": external_id, "occurred_at": T0 + dt.timedelta(days=1), "kind": "complaint",
         "channel": "email", "external_id": f"{external_id}-k1",
         "payload": {"text": f"This is {NAME}, call me on {PHONE} or {EMAIL}",
                     "priority": "high"}},
        {"customer": external_id, "occurred_at": T0 + dt.timedelta(days=2), "kind": "survey",
         "channel": "email", "external_id": f"{external_id}-s1",
         "payload": {"nps": 3, "csat": 2, "comment": f"{HANDLE} is not happy"}},
        {"customer": external_id, "occurred_at": T0 + dt.timedelta(days=3), "kind": "message",
         "channel": "social", "direction": "inbound", "external_id": f"{external_id}-m1",
         "payload": {"text": f"hi from {HANDLE}"}},
    ])


def test_erase_leaves_no_personal_text_in_any_table(everything, clock):
    crm = everything
    grace(crm, "G1")
    if "social" in crm.enabled_plugins():
        crm.plugin("social").link_handle("G1", "twitter", HANDLE)
    clock.set(T0 + dt.timedelta(days=40))
    crm.sweep()
    needles = [NAME, EMAIL, PHONE, HANDLE.lstrip("@")]
    assert {"customers.name", "customers.email", "interactions.payload"} <= set(scan(crm, needles))
    crm.customers.erase("G1")
    assert scan(crm, needles) == []
    assert crm.customers.export_data("G1")["customer"]["name"] is None


def test_merge_leaves_no_row_pointing_at_the_duplicate(everything, clock):
    crm = everything
    grace(crm, "KEEP")
    grace(crm, "DUP", email="grace@old.example")
    if "social" in crm.enabled_plugins():
        crm.plugin("social").link_handle("DUP", "twitter", HANDLE)
    clock.set(T0 + dt.timedelta(days=40))
    crm.sweep()
    dup = crm.customers.get("DUP")
    assert rows_pointing_at(crm, dup.id)
    merged = crm.customers.merge("KEEP", "DUP")
    assert rows_pointing_at(crm, dup.id) == {}
    assert len(crm.interactions.list(customer="KEEP")) == 8
    assert merged.email == EMAIL


def test_erase_completes_and_leaves_nothing_when_the_ids_hold_the_email(everything, clock):
    """The external ids of the customer and of their interactions are the email; every plugin
    holds data; after the erase no column of any table (read as text) holds the email, name
    or phone: not the erase's own audit row, nor an earlier privacy request."""
    crm = everything
    name, email, phone = "Quentin Zebulon-Marsh", "q.zebulon@example.net", "+1 202 555 0147"
    crm.customers.add(email, name, email=email, phone="+1 202 555 0100", tags=["vip"])
    crm.customers.update(email, phone=phone)  # the audit log holds old → new values
    crm.interactions.record_many([
        {"customer": email, "occurred_at": T0 + dt.timedelta(days=d), "amount": "40.00",
         "external_id": f"shop:{email}:{d}",
         "payload": {"order_id": f"{email}/{d}", "text": f"for {name}"}}
        for d in range(3)])
    if "social" in crm.enabled_plugins():
        crm.plugin("social").link_handle(email, "twitter", "qzebulon")
    if "operational" in crm.enabled_plugins():
        ops = crm.plugin("operational")
        ops.open_case(email, f"{name} ({email}) cannot log in")
        ops.create_task(email, f"Call {name} on {phone}", None, T0 + dt.timedelta(days=5))
    if "loyalty" in crm.enabled_plugins():
        crm.plugin("loyalty").adjust(email, 25, f"goodwill for {name}")
    clock.set(T0 + dt.timedelta(days=40))
    crm.sweep()
    crm.customers.export_data(email)
    needles = [name, email, phone, "+1 202 555 0100"]
    assert {"customers.email", "interactions.external_id", "audit_log.changes",
            "privacy_requests.details"} <= set(scan(crm, needles, every_column=True))

    crm.command = f"crmkit customers erase {email} --yes"  # as the CLI records it
    tombstone = crm.customers.erase(email)
    assert scan(crm, needles, every_column=True) == []
    assert tombstone.external_id.startswith("erased-") and tombstone.erased_at is not None
    interactions = crm.interactions.list(customer=tombstone.external_id)
    assert sorted(i.amount for i in interactions) == [40, 40, 40]
    assert all(i.external_id.startswith("erased-") for i in interactions)
    assert len({i.external_id for i in interactions}) == 3
    [entry] = [e for e in crm.customers.history(tombstone.external_id) if e.action == "erase"]
    assert entry.command == "crmkit customers erase (erased arguments)"
