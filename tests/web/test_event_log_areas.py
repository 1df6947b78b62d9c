"""GET /api/v1/events shows a member only the events of the areas they may read: a type a
plugin declares when their role grants ``<plugin>.read`` and the plugin's row-level rule
restricts them on no record (operational's: without ``operational.all``, only their own
leads, tasks and cases), the core's types to every reader of the log, and a type nobody
declares now (an ``automation.<name>`` event, a disabled plugin's) only to a member who
reads every area unrestricted.  The types are left out in SQL, so a page still holds
``limit`` events.  In-process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest

from web_support import with_role

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


def test_a_member_operational_restricts_reads_none_of_its_events_not_even_their_own(shop):
    """operational's rule decides on a lead, task or case by its owner now; an event is none
    of them (most carry no owner, and an owner in a payload is the one at the time), so a
    member it restricts reads none of operational's events, their own task's neither; they
    reach their own records through operational's routes.  A manager reads them all."""
    api = shop
    with_role(api.crm, "closer", ["*", "!operational.all"])
    closer = api.client(api.token("cleo", role="closer"))
    assert events(closer) == OUTSIDE_OPERATIONAL
    assert events(closer, type="task.created") == []
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
