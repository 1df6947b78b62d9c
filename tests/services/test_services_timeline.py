"""Customer 360 (profile, organisation, timeline from every source) and the audit log."""

from __future__ import annotations

import datetime as dt
import json
import types

import pytest

import crmkit
from crmkit import CRM, TimelineEntry, hookimpl
from crmkit.errors import PluginError
from crmkit.services.audit import AuditLog
from owned_notes import owned_notes_plugin

UTC = dt.timezone.utc


def test_timeline_merges_core_and_plugin_entries_newest_first(vendor_crm, clock):
    crm = vendor_crm
    crm.plugins.enable("testvendor")
    clock.set(dt.datetime(2024, 5, 3, tzinfo=UTC))
    crm.customers.add("C1", "Ada")  # audit entry + vendor welcome note at 05-03
    crm.interactions.record("C1", dt.datetime(2024, 5, 1, tzinfo=UTC), amount="12.50",
                            channel="web", external_id="o1")
    crm.interactions.record("C1", dt.datetime(2024, 5, 5, tzinfo=UTC), kind="call",
                            direction="outbound", channel="phone", external_id="c1")
    entries = crm.customers.timeline("C1")
    assert [(e.at.day, e.source, e.kind, e.summary) for e in entries] == [
        (5, "core", "call", "call via phone (outbound)"),
        (3, "core", "customers.create", "create by system"),
        (3, "testvendor", "note", "Welcome!"),
        (1, "core", "purchase", "purchase 12.5 USD via web"),
    ]
    assert [e.kind for e in crm.customers.timeline("C1", limit=2)] == ["call", "customers.create"]


def test_a_plugin_timeline_entry_without_timezone_is_refused(crm_url, clock):
    module = types.ModuleType("naive_timeline")
    module.PLUGIN = crmkit.PluginInfo(name="naive", description="bad timeline")
    module.crmkit_timeline = hookimpl(lambda ctx, customer_id, limit: [
        TimelineEntry(at=dt.datetime(2024, 1, 1), kind="x", summary="naive")])
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"naive": module}) as crm:
        crm.plugins.enable("naive")
        crm.customers.add("C1")
        with pytest.raises(PluginError, match="plugin 'naive': crmkit_timeline entry 'naive' "
                                              "needs an aware UTC datetime"):
            crm.customers.timeline("C1")


def notes_plugin(owners: list[str | None], asked: list[int]) -> types.ModuleType:
    """A plugin "notes" with a row-level rule (an agent reads only the notes of their own
    ``{"owner": handle}``) giving, newest first, a timeline entry per owner in ``owners``
    (None: an entry about no record) and noting in ``asked`` each limit it is asked for."""
    module = owned_notes_plugin("notes_timeline")

    def timeline(ctx, customer_id, limit):
        asked.append(limit)
        return [TimelineEntry(at=dt.datetime(2024, 5, 30 - n, tzinfo=UTC), kind="note",
                              summary=f"note {n}", resource=None if owner is None else
                              {"owner": owner})
                for n, owner in enumerate(owners)][:limit]

    module.crmkit_timeline = hookimpl(timeline)
    return module


@pytest.fixture
def notes(crm_url, clock):
    """``notes(owners)``: a CRM with :func:`notes_plugin` enabled, customer C1 (added on
    2024-05-01, before every note), agents ana and bo, viewer vic, admin root and cy (a
    clerk: only ``customers.read``); returns ``(crm, asked)``."""
    opened = []

    def open_with(owners):
        asked: list[int] = []
        crm = CRM.open(crm_url, clock=clock, create=True,
                       extra_plugins={"notes": notes_plugin(owners, asked)})
        opened.append(crm)
        crm.plugins.enable("notes")
        clock.set(dt.datetime(2024, 5, 1, tzinfo=UTC))
        crm.customers.add("C1")
        for handle, role in (("ana", "agent"), ("bo", "agent"), ("vic", "viewer"),
                             ("root", "admin")):
            crm.staff.add(handle, handle.title(), "team", role=role)
        roles = crm.core_config["roles"] | {"clerk": ["customers.read"]}
        crm.plugins.configure_core(crm.core_config | {"roles": roles})
        crm.staff.add("cy", "Cy", "team", role="clerk")
        asked.clear()
        return crm, asked

    yield open_with
    for crm in opened:
        crm.close()


def read_notes(crm, handle: str | None, limit: int = 100) -> list[str]:
    """The summaries of notes' entries in C1's timeline as ``handle`` reads it (None: the
    operator)."""
    reader = None if handle is None else crm.auth.principal(handle)
    return [e.summary for e in crm.customers.timeline("C1", limit=limit, reader=reader)
            if e.source == "notes"]


def test_a_restricted_reader_reads_only_the_entries_about_records_the_rule_allows(notes):
    crm, asked = notes(["ana", "bo", None, "ana", "vic"])
    every = ["note 0", "note 1", "note 2", "note 3", "note 4"]
    assert read_notes(crm, None) == every
    assert read_notes(crm, "root") == every  # no rule restricts an admin
    assert read_notes(crm, "vic") == every  # nor a viewer (this rule's choice)
    assert read_notes(crm, "ana") == ["note 0", "note 3"]  # none about no record (note 2)
    assert read_notes(crm, "bo") == ["note 1"]
    assert read_notes(crm, "cy") == []  # the role does not grant notes.read
    [entry] = [e for e in crm.customers.timeline("C1", reader=crm.auth.principal("bo"))
               if e.source == "notes"]
    assert entry.resource == {"owner": "bo"}


def test_a_restricted_reader_s_limited_timeline_asks_the_plugin_again_for_more(notes):
    """Of a full answer a rule leaves ana too few: notes is asked for twice as many, until
    she reads ``limit`` of them (her two newest) or it has no more (bo reads his only one);
    an unrestricted reader's timeline asks once."""
    crm, asked = notes(["bo", "bo", "bo", "ana", "bo", "ana", "ana"])
    assert read_notes(crm, "ana", limit=2) == ["note 3", "note 5"]
    assert asked == [2, 4, 8]
    asked.clear()
    assert read_notes(crm, "bo", limit=2) == ["note 0", "note 1"]
    assert asked == [2]
    asked.clear()
    assert read_notes(crm, "ana", limit=4) == ["note 3", "note 5", "note 6"]
    assert asked == [4, 8]  # seven entries given for eight: no more
    asked.clear()
    assert read_notes(crm, "root", limit=2) == ["note 0", "note 1"]
    assert asked == [2]


def test_a_timeline_entry_whose_resource_is_no_dict_is_refused(crm_url, clock):
    module = types.ModuleType("listed_timeline")
    module.PLUGIN = crmkit.PluginInfo(name="listed", description="bad resource")
    module.crmkit_timeline = hookimpl(lambda ctx, customer_id, limit: [
        TimelineEntry(at=dt.datetime(2024, 1, 1, tzinfo=UTC), kind="x", summary="listed",
                      resource=["ana"])])
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"listed": module}) as crm:
        crm.plugins.enable("listed")
        crm.customers.add("C1")
        with pytest.raises(PluginError, match=r"plugin 'listed': crmkit_timeline entry "
                                              r"'listed': 'resource' must be a dict .* or "
                                              r"None, got list"):
            crm.customers.timeline("C1")


def test_show_prints_profile_organisation_people_consents_and_timeline(crm, run_cli):
    crm.customers.add("ORG1", "Acme", type="organisation")
    crm.customers.add("C1", "Ada", email="ada@example.com", organisation="ORG1",
                      attributes={"city": "London"})
    crm.customers.set_consent("C1", "email", True, "web form")
    crm.interactions.record("C1", dt.datetime(2024, 5, 1, tzinfo=UTC), amount="3")
    code, out, err = run_cli("customers", "show", "C1", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["profile"]["email"] == "ada@example.com"
    assert shown["profile"]["organisation"] == "ORG1"
    assert shown["attributes"] == {"city": "London"}
    assert shown["organisation"] == {"external_id": "ORG1", "name": "Acme"}
    assert [(c["channel"], c["granted"]) for c in shown["consents"]] == [("email", True)]
    assert [e["kind"] for e in shown["timeline"]] == ["consents.consent", "customers.create",
                                                      "purchase"]
    assert shown["timeline"][0]["summary"] == "consent granted on email by system"
    code, out, _ = run_cli("customers", "show", "ORG1", "--format", "json")
    assert json.loads(out)["people"] == [{"external_id": "C1", "name": "Ada",
                                          "email": "ada@example.com"}]
    code, out, _ = run_cli("customers", "show", "C1")
    assert "profile:" in out and "  email: ada@example.com" in out and "timeline:" in out
    code, out, _ = run_cli("customers", "show", "C1", "--format", "csv")
    assert out.splitlines()[0] == "at,source,kind,summary"
    assert out.splitlines()[-1].endswith(",core,purchase,purchase 3 USD")
    code, _, err = run_cli("customers", "show", "NOPE")
    assert code == 1 and err == "error: no customer 'NOPE'\n"


def test_audit_log_filters_and_cli(vendor_crm, clock, run_cli):
    crm = vendor_crm
    crm.actor = "ana"
    crm.customers.add("C1", "Ada")
    clock.advance(days=1)
    crm.customers.update("C1", email="ada@example.com")
    crm.plugins.enable("testvendor", {"big_purchase_amount": 5})
    crm.plugins.configure("testvendor", {"big_purchase_amount": 7})
    crm.actor = "system"
    crm.customers.add("C2", "Bob")
    crm.customers.merge("C1", "C2")
    log = AuditLog(crm)
    assert [(e.action, e.actor) for e in log.list()] == [
        ("merge", "system"), ("create", "system"), ("configure", "ana"), ("enable", "ana"),
        ("update", "ana"), ("create", "ana")]
    [update] = log.list(action="update")
    assert update.changes == {"email": [None, "ada@example.com"]} and update.customer_id
    [configure] = log.list(action="configure")
    assert configure.changes["old"]["big_purchase_amount"] == 5
    assert configure.changes["new"]["big_purchase_amount"] == 7
    assert [e.action for e in log.list(customer="C1")] == ["merge", "create", "update", "create"]
    assert [e.action for e in log.list(customer="C2")] == ["create"]  # merged away: by its key
    since = dt.datetime(2025, 1, 2, tzinfo=UTC)
    assert len(log.list(since=since)) == 5 and len(log.list(actor="ana")) == 4
    code, out, err = run_cli("audit", "--customer", "C1", "--action", "update", "--format", "json",
                             plugins=("crmkit_testvendor",))
    assert code == 0, err
    [row] = json.loads(out)
    assert (row["actor"], row["action"], row["record_key"]) == ("ana", "update", "C1")
    assert row["changes"] == {"email": [None, "ada@example.com"]}
    code, out, _ = run_cli("audit", "--since", "2025-01-02", "--format", "csv",
                           plugins=("crmkit_testvendor",))
    assert out.splitlines()[0] == "id,at,actor,action,table_name,record_key,changes,command"
    assert len(out.splitlines()) == 6
