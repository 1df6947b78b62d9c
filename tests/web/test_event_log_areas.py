"""GET /api/v1/events shows a member only the events of the areas they may read: a type a
plugin declares when their role grants ``<plugin>.read``, all of its events when no plugin's
row-level rule restricts them on a record, else those about a record the rules allow them
(``crmkit_event_resources``: operational's agent reads the events of the leads and
opportunities they own and the tasks and cases assigned to them, none of a plugin without
that hook); the core's types to every reader of the log, and a type nobody declares now (an
``automation.<name>`` event, a disabled plugin's) only to a member who reads every area
unrestricted.  The types are left out in SQL, so a page still holds ``limit`` events of the
others; the events a rule leaves out are left out of their page, which ``next_after``
passes.  In-process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import types

import pytest

from crmkit import CRM, hookimpl
from crmkit.auth import DEFAULT_ROLES
from crmkit.errors import PluginError
from owned_notes import owned_notes_plugin
from web_support import InProcess, with_role

OPERATIONAL = {"stage.changed", "task.created"}
"""The operational types the shop's events hold."""


@pytest.fixture
def shop(api, clock):
    """``api`` with operational and loyalty enabled: customers C1 and C2 (each a
    ``customer.created`` and operational's ``stage.changed`` of its new lead), a task of
    cleo's on C1 and one of bob's on C2 (``task.created``), a purchase making C2 gold
    (loyalty's ``tier.changed``) and an ``automation.nudged`` event, which no plugin
    declares, on C1."""
    crm = api.crm
    crm.plugins.enable("operational")
    crm.plugins.enable("loyalty")
    for handle in ("cleo", "bob"):
        crm.staff.add(handle, handle.title(), "sales")
    for ref in ("C1", "C2"):
        crm.customers.add(ref, f"{ref}'s name")
    operational = crm.plugin("operational")
    for ref, handle in (("C1", "cleo"), ("C2", "bob")):
        operational.create_task(ref, f"Call {ref}", handle, clock.now() + dt.timedelta(days=1))
    crm.interactions.record("C2", clock.now(), kind="purchase", amount="5000")
    with crm.transaction() as tx:
        tx.emit("automation.nudged", crm.customers.get("C1").id, {"rule": "nudge"},
                source="operational")
    return api


def events(client, **params) -> list[tuple[str, str]]:
    """The (type, customer) of each event of one page of ``client``'s event log."""
    answer = client.get("/api/v1/events", params=params)
    assert answer.status_code == 200, answer.text
    return [(e["type"], e["customer"]) for e in answer.json()["items"]]


EVERY = [("customer.created", "C1"), ("stage.changed", "C1"), ("customer.created", "C2"),
         ("stage.changed", "C2"), ("task.created", "C1"), ("task.created", "C2"),
         ("tier.changed", "C2"), ("automation.nudged", "C1")]
"""The shop's events, as an admin reads them."""
OUTSIDE_OPERATIONAL = [("customer.created", "C1"), ("customer.created", "C2"),
                       ("tier.changed", "C2")]
"""The shop's events of the core's and loyalty's types."""


def test_a_member_without_operational_read_reads_none_of_its_events(shop):
    api = shop
    with_role(api.crm, "clerk", ["*", "!operational.read"])
    clerk = api.client(api.token("cy", role="clerk"))
    assert events(clerk) == OUTSIDE_OPERATIONAL
    for event_type in sorted(OPERATIONAL):
        assert events(clerk, type=event_type) == []
    assert events(api.client(api.token("root", role="admin"))) == EVERY


def test_a_member_operational_restricts_reads_the_events_of_their_own_records_only(shop):
    """operational's rule decides on a lead, task or case by its owner now, and operational
    names the record each of its events is about: a member it restricts reads the event of
    their own task, not bob's nor the stage moves of the unowned leads; their routes show
    the same task.  A manager reads them all."""
    api = shop
    with_role(api.crm, "closer", ["*", "!operational.all"])
    closer = api.client(api.token("cleo", role="closer"))
    assert events(closer) == [*OUTSIDE_OPERATIONAL[:2], ("task.created", "C1"),
                              OUTSIDE_OPERATIONAL[2]]
    assert events(closer, type="task.created") == [("task.created", "C1")]
    assert events(closer, type="stage.changed") == []
    assert [t["subject"] for t in closer.get("/api/v1/operational/tasks").json()] == ["Call C1"]
    assert events(api.client(api.token("mia", role="manager"))) == EVERY


def test_a_type_nobody_declares_is_read_only_by_a_member_reading_every_area(shop):
    """``automation.nudged`` (operational's rules name their own types, which no plugin
    declares) and, once loyalty is disabled, ``tier.changed``: a role granting each plugin's
    read by name does not read them, a manager (``*``) does."""
    api = shop
    with_role(api.crm, "reader", ["customers.read", "events.read", "operational.read",
                                  "operational.all", "loyalty.read"])
    reader = api.client(api.token("ray", role="reader"))
    assert events(reader) == EVERY[:-1]
    api.crm.plugins.disable("loyalty")
    assert events(reader) == [e for e in EVERY[:-1] if e[0] != "tier.changed"]
    assert events(api.client(api.token("mia", role="manager"))) == EVERY


def test_a_page_holds_limit_events_when_types_are_left_out(shop):
    """The types a member may not read take no place in a page: following ``next_after``
    with ``limit=2`` gives pages of two of the events they may read, then the rest."""
    api = shop
    api.crm.customers.add_many([{"external_id": f"C{n}"} for n in range(3, 7)])
    with_role(api.crm, "clerk", ["*", "!operational.read"])
    admin = api.client(api.token("root", role="admin")).get("/api/v1/events").json()["items"]
    readable = [e["id"] for e in admin
                if e["type"] not in OPERATIONAL and e["type"] != "automation.nudged"]
    assert len(readable) == 7 and len(admin) == 16
    clerk = api.client(api.token("cy", role="clerk"))
    pages, after = [], 0
    while True:
        page = clerk.get("/api/v1/events", params={"after": after, "limit": 2}).json()
        if not page["items"]:
            break
        pages.append([e["id"] for e in page["items"]])
        after = page["next_after"]
    assert pages == [readable[i:i + 2] for i in range(0, len(readable), 2)]
    assert after == readable[-1]


@pytest.fixture
def desk(api, clock):
    """``api`` with operational enabled: C1, its lead assigned to ana (team support, which
    makes it an sql and gives her its first-contact task 1), an opportunity of bo's, tasks
    2 (ana's, then done), 3 (bo's) and 4 (nobody's), case 1 (ana's); C2, a client (no lead),
    with case 2 (ana's).  Members: ana and bo (agents), sue (supervisor: an agent's role and
    ``operational.all``), root (admin)."""
    crm = api.crm
    crm.plugins.enable("operational")
    with_role(crm, "supervisor", [*DEFAULT_ROLES["agent"], "operational.all"])
    for handle, team, role in (("ana", "support", "agent"), ("bo", "south", "agent"),
                               ("sue", "office", "supervisor"), ("root", "office", "admin")):
        crm.staff.add(handle, handle.title(), team, role=role)
    crm.customers.add("C1", "Ann")
    crm.customers.add("C2", "Cal", lifecycle_stage="active")
    operational = crm.plugin("operational")
    assert operational.assign_lead("C1", team="support") == "ana"
    operational.create_opportunity("C1", "Refit", "10", owner="bo")
    due = clock.now() + dt.timedelta(days=1)
    for subject, assignee in (("Ring Ann", "ana"), ("Visit Ann", "bo"), ("Post a card", None)):
        operational.create_task("C1", subject, assignee, due)
    operational.open_case("C1", "Quokka ledger")
    operational.open_case("C2", "Quokka ledger")
    operational.complete_task(2)
    return api


DESK = [("customer.created", "C1", None), ("stage.changed", "C1", "lead"),
        ("customer.created", "C2", None), ("lead.assigned", "C1", None),
        ("task.created", "C1", 1), ("stage.changed", "C1", "lead"),
        ("stage.changed", "C1", "opportunity"), ("task.created", "C1", 2),
        ("task.created", "C1", 3), ("task.created", "C1", 4), ("case.opened", "C1", 1),
        ("case.opened", "C2", 2), ("task.closed", "C1", 2)]
"""The desk's events, as an admin reads them: (type, customer, the lead's, opportunity's,
task's or case's id or entity)."""
ANAS = [0, 1, 2, 3, 4, 5, 7, 10, 11, 12]
"""Which of :data:`DESK` ana reads: her lead's stage moves (the first when it had no owner
yet: the owner now decides) and assignment, her tasks' and her cases' events."""
BOS = [0, 2, 6, 8]
"""Which of :data:`DESK` bo reads: his opportunity's stage move and his task's creation."""


def described(client, **params) -> list[tuple[str, str, object]]:
    """:data:`DESK`'s terms of the events of one page of ``client``'s event log."""
    answer = client.get("/api/v1/events", params=params)
    assert answer.status_code == 200, answer.text
    return [(e["type"], e["customer"], e["payload"].get("task_id") or e["payload"].get("case_id")
             or e["payload"].get("entity")) for e in answer.json()["items"]]


def member(api, handle: str):
    return api.client(api.token(handle, role=api.crm.staff.get(handle).role))


def test_an_agent_reads_the_operational_events_of_their_own_leads_tasks_and_cases(desk):
    """ana reads the events of her lead, her tasks and her cases; not bo's opportunity's or
    task's, nor the unassigned task's; bo his own; a supervisor (``operational.all``) every
    event, as an admin.  ``?type=`` still filters."""
    api = desk
    assert described(member(api, "root")) == DESK
    assert described(member(api, "sue")) == DESK
    assert described(member(api, "ana")) == [DESK[n] for n in ANAS]
    assert described(member(api, "bo")) == [DESK[n] for n in BOS]
    assert described(member(api, "ana"), type="task.created") == [
        ("task.created", "C1", 1), ("task.created", "C1", 2)]
    assert described(member(api, "bo"), type="case.opened") == []


def test_an_event_s_record_is_read_by_its_owner_now(desk):
    """The owner of a record decides as it is now: once bo's opportunity goes to ana, its
    stage move is hers to read and no longer his."""
    api = desk
    from sqlalchemy import update

    from crmkit_operational.tables import opportunities

    with api.crm.transaction() as tx:
        tx.conn.execute(update(opportunities).values(owner="ana"))
    assert ("stage.changed", "C1", "opportunity") in described(member(api, "ana"))
    assert ("stage.changed", "C1", "opportunity") not in described(member(api, "bo"))


def test_next_after_passes_the_events_a_rule_leaves_out(desk):
    """The events a rule leaves out are left out of the page they fall in: with ``limit=2``
    ana's pages follow the admin's two by two, each holding those of the two she reads
    (none of events 9 and 10, bo's and nobody's task), and ``next_after`` passes them."""
    api = desk
    ids = [e["id"] for e in member(api, "root").get("/api/v1/events").json()["items"]]
    ana = member(api, "ana")
    pages, after = [], 0
    while True:
        page = ana.get("/api/v1/events", params={"after": after, "limit": 2}).json()
        if page["next_after"] == after:
            assert page["items"] == []
            break
        pages.append(([e["id"] for e in page["items"]], page["next_after"]))
        after = page["next_after"]
    assert pages == [([i for n, i in enumerate(ids) if n in ANAS and i in ids[k:k + 2]],
                      ids[min(k + 1, len(ids) - 1)]) for k in range(0, len(ids), 2)]
    assert ([], ids[9]) in pages


def notes_plugin(resources=None, asked: list | None = None) -> types.ModuleType:
    """A plugin "notes" declaring ``note.added`` (payload: owner), whose row-level rule shows
    an agent only the notes of their own ``{"owner": handle}``; with ``resources``, it
    implements ``crmkit_event_resources`` answering ``resources(events)`` and noting each
    call's event ids in ``asked``."""
    module = owned_notes_plugin("notes_events")
    module.crmkit_event_types = hookimpl(lambda: {"note.added": "a note (payload: owner)"})
    if resources is not None:
        def event_resources(ctx, events):
            assert {event.type for event in events} == {"note.added"}
            asked.append([event.id for event in events])
            return resources(events)

        module.crmkit_event_resources = hookimpl(event_resources)
    return module


def owned(events) -> list[dict | None]:
    """The notes' records: ``{"owner": owner}``, none for a note of nobody's."""
    return [None if e.payload["owner"] is None else {"owner": e.payload["owner"]} for e in events]


@pytest.fixture
def notes(crm_url, clock):
    """``notes(resources=None)``: the API in-process with :func:`notes_plugin` enabled,
    customer C1 and its notes of ana, bo, nobody and ana (``note.added``); agents ana and bo,
    admin root.  Returns ``(api, asked)``."""
    opened = []

    def open_with(resources=None):
        asked: list[list[int]] = []
        crm = CRM.open(crm_url, clock=clock, create=True,
                       extra_plugins={"notes": notes_plugin(resources, asked)})
        api = InProcess(crm)
        opened.append((crm, api))
        crm.plugins.enable("notes")
        for handle, role in (("ana", "agent"), ("bo", "agent"), ("root", "admin")):
            crm.staff.add(handle, handle.title(), "team", role=role)
        crm.customers.add("C1")
        with crm.transaction() as tx:
            for owner in ("ana", "bo", None, "ana"):
                tx.emit("note.added", crm.customers.get("C1").id, {"owner": owner},
                        source="notes")
        return api, asked

    yield open_with
    for crm, api in opened:
        api.close()
        crm.close()


def note_owners(api, handle: str, **params) -> list[str | None]:
    """The owner of each note of one page of the log as ``handle`` reads it."""
    answer = member(api, handle).get("/api/v1/events", params=params)
    assert answer.status_code == 200, answer.text
    return [e["payload"]["owner"] for e in answer.json()["items"] if e["type"] == "note.added"]


def test_a_plugin_without_the_hook_keeps_its_events_from_a_member_it_restricts(notes):
    api, _ = notes()
    assert note_owners(api, "ana") == []
    assert note_owners(api, "root") == ["ana", "bo", None, "ana"]


def test_a_plugin_s_hook_is_asked_once_per_page_and_only_for_a_restricted_member(notes):
    """ana reads her notes, none of nobody's; notes is asked once for the page's four notes;
    an admin's page asks nothing."""
    api, asked = notes(owned)
    assert note_owners(api, "ana") == ["ana", "ana"]
    assert note_owners(api, "bo") == ["bo"]
    notes_ids = [e["id"] for e in member(api, "root").get("/api/v1/events").json()["items"]
                 if e["type"] == "note.added"]
    assert asked == [notes_ids, notes_ids]
    asked.clear()
    assert note_owners(api, "root") == ["ana", "bo", None, "ana"]
    assert asked == []


@pytest.mark.parametrize("answer, problem", [
    (lambda events: owned(events)[:-1], "got 3 for 4 events"),
    (lambda events: None, "got NoneType"),
    (lambda events: [["ana"] for _ in events], r"the resource of event \d+ \(note.added\) "
                                               r"must be a dict .* or None, got list"),
])
def test_a_malformed_answer_of_the_hook_is_a_plugin_error(notes, answer, problem):
    api, _ = notes(answer)
    refused = member(api, "ana").get("/api/v1/events")
    assert refused.status_code == 409
    assert "plugin 'notes': crmkit_event_resources" in refused.text
    crm = api.crm
    readable = crm.events.readable_by(crm.auth.principal("ana"))
    with pytest.raises(PluginError, match=f"plugin 'notes': crmkit_event_resources.*{problem}"):
        crm.events.readable(crm.events.list(readable=readable), readable)
