"""A customer's timeline (``GET /api/v1/customers/{id}/timeline`` and the customer page)
shows a member a plugin's entries only when their role grants ``<plugin>.read`` and no
plugin's row-level rule may refuse them one of its records (an entry names no record a rule
could decide on: a member operational restricts to their own tasks and cases reads none of
its entries); the core's interactions and audit entries to every reader of the customer.
The entries left out take no place within ``limit``.  In-process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from web_support import PASSWORD, sign_in, with_role

SECRET = "Quokka ledger"
"""The subject of C1's task and case: operational's entries name it."""


@pytest.fixture
def shop(api, clock):
    """``api`` with operational and loyalty enabled: customer C1 (its lead's stage move),
    a task of cleo's and a case, both about :data:`SECRET`, then a purchase (interaction
    and loyalty points) and a note; members cy (role clerk: ``*`` but ``operational.*``), cleo
    (closer: ``*`` but ``operational.all``) and root (admin), each with a password."""
    crm = api.crm
    crm.plugins.enable("operational")
    crm.plugins.enable("loyalty")
    with_role(crm, "clerk", ["*", "!operational.*"])
    with_role(crm, "closer", ["*", "!operational.all"])
    crm.customers.add("C1", "Ann")
    operational = crm.plugin("operational")
    for handle, role in (("cy", "clerk"), ("cleo", "closer"), ("root", "admin")):
        api.token(handle, role=role)
        crm.staff.set_password(handle, PASSWORD)
    operational.create_task("C1", SECRET, "cleo", clock.now() + dt.timedelta(days=1))
    operational.open_case("C1", SECRET)
    crm.interactions.record("C1", clock.now(), kind="purchase", amount="50")
    crm.interactions.record("C1", clock.now(), kind="note", payload={"text": "hello"})
    return api


def entries(api, handle: str, limit: int = 100) -> list[tuple[str, str, str]]:
    """The (source, kind, summary) of each entry of C1's timeline as ``handle`` reads it
    over the API."""
    answer = api.client(api.token(handle, role=api.crm.staff.get(handle).role)).get(
        "/api/v1/customers/C1/timeline", params={"limit": limit})
    assert answer.status_code == 200, answer.text
    return [(e["source"], e["kind"], e["summary"]) for e in answer.json()]


def outside_operational(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [entry for entry in found if entry[0] != "operational"]


def timeline_sources(api, handle: str) -> set[str]:
    """The sources of the timeline entries on C1's customer page as ``handle`` sees it."""
    answer = sign_in(api, handle).get("/customers/C1")
    assert answer.status_code == 200, answer.text
    return set(re.findall(r'<li data-source="([^"]+)"', answer.text))


def test_a_member_without_operational_read_reads_none_of_its_entries(shop):
    api = shop
    every = entries(api, "root")
    assert {entry[0] for entry in every} == {"core", "loyalty", "operational"}
    assert timeline_sources(api, "root") == {"core", "loyalty", "operational"}
    assert entries(api, "cy") == outside_operational(every)
    assert timeline_sources(api, "cy") == {"core", "loyalty"}


def test_a_member_operational_restricts_reads_none_of_its_entries_not_even_their_own(shop):
    """cleo is assigned the task, but most of operational's entries (a stage move, a case's,
    a fired rule) name no record its rule could decide on; operational's routes show her
    own task."""
    api = shop
    assert entries(api, "cleo") == outside_operational(entries(api, "root"))
    assert timeline_sources(api, "cleo") == {"core", "loyalty"}
    token = api.token("cleo", role="closer")
    tasks = api.client(token).get("/api/v1/operational/tasks").json()
    assert [t["subject"] for t in tasks] == [SECRET]


def test_a_limited_timeline_holds_limit_entries_the_member_reads(shop, clock):
    """With operational's entries the newest, a clerk's ``limit=3`` still holds three
    entries, the newest three of those they read."""
    api = shop
    clock.advance(hours=1)
    for n in range(4):
        api.crm.plugin("operational").create_task("C1", f"later {n}", "cleo",
                                                  clock.now() + dt.timedelta(days=1))
    every = entries(api, "root")
    assert [entry[0] for entry in every[:4]] == ["operational"] * 4
    readable = outside_operational(every)
    assert len(readable) > 3
    assert entries(api, "cy", limit=3) == readable[:3]
