"""A customer's timeline (``GET /api/v1/customers/{id}/timeline`` and the customer page)
shows a member a plugin's entries only when their role grants ``<plugin>.read``: all of them
when no plugin's row-level rule may refuse them one of its records, else only the entries
about a record the rules allow them (the entry's ``resource``: operational's agent reads the
stage moves of the leads and opportunities they own, the tasks and cases assigned to them and
the rules fired on their leads, nobody's unassigned task and no entry about no record); the
core's interactions and audit entries to every reader of the customer.  The entries left out
take no place within ``limit``.  In-process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crmkit.auth import DEFAULT_ROLES
from web_support import PASSWORD, sign_in, with_role

ANAS, BOS, NOBODYS = "Ring Ann", "Visit Ann", "Post Ann a card"
"""The subjects of C1's tasks: ana's, bo's and an unassigned one."""
COMPLAINT = "Quokka ledger"
"""The subject of C1's case, assigned to ana (the only member of team support)."""
TAG_CASES = {"name": "tag-cases", "on": "case.opened", "do": [{"add_tag": "complained"}]}
"""An automation rule firing on every case opened."""


@pytest.fixture
def shop(api, clock):
    """``api`` with operational (rule :data:`TAG_CASES`) and loyalty enabled: customer C1,
    its lead owned by ana, an opportunity of bo's, a task each of ana's, bo's and nobody's, a
    case (ana's) and the rule fired on it, then a purchase (interaction and loyalty points) and
    a note; C2, no lead, with a case (ana's) and the rule fired on it.  Members, each with a
    password: ana (team support) and bo (south), agents; sue (supervisor: an agent's role and
    ``operational.all``); cy (clerk: ``*`` but ``operational.*``); root (admin)."""
    crm = api.crm
    crm.plugins.enable("operational", {"automation": {"rules": [TAG_CASES]}})
    crm.plugins.enable("loyalty")
    with_role(crm, "clerk", ["*", "!operational.*"])
    with_role(crm, "supervisor", [*DEFAULT_ROLES["agent"], "operational.all"])
    for handle, team, role in (("ana", "support", "agent"), ("bo", "south", "agent"),
                               ("sue", "office", "supervisor"), ("cy", "office", "clerk"),
                               ("root", "office", "admin")):
        crm.staff.add(handle, handle.title(), team, role=role)
        crm.staff.set_password(handle, PASSWORD)
    crm.customers.add("C1", "Ann")
    crm.customers.add("C2", "Cal", lifecycle_stage="active")  # a client: not in the funnel
    operational = crm.plugin("operational")
    assert operational.assign_lead("C1", team="support") == "ana"
    operational.create_opportunity("C1", "Refit", "10", owner="bo")
    due = clock.now() + dt.timedelta(days=1)
    for subject, assignee in ((ANAS, "ana"), (BOS, "bo"), (NOBODYS, None)):
        operational.create_task("C1", subject, assignee, due)
    operational.open_case("C1", COMPLAINT)
    operational.open_case("C2", COMPLAINT)
    crm.interactions.record("C1", clock.now(), kind="purchase", amount="50")
    crm.interactions.record("C1", clock.now(), kind="note", payload={"text": "hello"})
    return api


def entries(api, handle: str, limit: int = 100, customer: str = "C1"
            ) -> list[tuple[str, str, str]]:
    """The (source, kind, summary) of each entry of ``customer``'s timeline as ``handle``
    reads it over the API."""
    answer = api.client(api.token(handle, role=api.crm.staff.get(handle).role)).get(
        f"/api/v1/customers/{customer}/timeline", params={"limit": limit})
    assert answer.status_code == 200, answer.text
    assert all(set(entry) == {"at", "kind", "summary", "details", "source"}
               for entry in answer.json())  # no resource
    return [(e["source"], e["kind"], e["summary"]) for e in answer.json()]


def operational(found: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """The (kind, summary) of operational's entries of ``found``."""
    return [(kind, summary) for source, kind, summary in found if source == "operational"]


def outside_operational(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [entry for entry in found if entry[0] != "operational"]


def page(api, handle: str) -> str:
    """C1's customer page as ``handle`` sees it."""
    answer = sign_in(api, handle).get("/customers/C1")
    assert answer.status_code == 200, answer.text
    return answer.text


def timeline_sources(text: str) -> set[str]:
    """The sources of the timeline entries on a customer page."""
    return set(re.findall(r'<li data-source="([^"]+)"', text))


def test_a_member_without_operational_read_reads_none_of_its_entries(shop):
    api = shop
    every = entries(api, "root")
    assert {entry[0] for entry in every} == {"core", "loyalty", "operational"}
    assert timeline_sources(page(api, "root")) == {"core", "loyalty", "operational"}
    assert entries(api, "cy") == outside_operational(every)
    assert timeline_sources(page(api, "cy")) == {"core", "loyalty"}


def test_an_agent_reads_the_entries_of_their_own_lead_tasks_cases_and_rules_only(shop):
    """ana reads her lead's stage move, her task, her case and the rule fired on her lead's
    customer; not bo's opportunity or task, nor the unassigned task.  bo reads his; a
    supervisor (``operational.all``) reads every entry, as an admin does."""
    api = shop
    every = entries(api, "root")
    anas_entries = [("automation", "rule tag-cases: add_tag: ok"),
                    ("case", f"case 1 (normal): {COMPLAINT} — opened"),
                    ("stage", "lead: entered at lead"),
                    ("stage", "lead: lead → sql"),  # the opportunity moved the lead
                    ("task", "task 1 (first_contact): First contact with new lead — open"),
                    ("task", f"task 2 (manual): {ANAS} — open")]
    bos_entries = [("stage", "opportunity 1: entered at qualification"),
                   ("task", f"task 3 (manual): {BOS} — open")]
    assert sorted(operational(every)) == sorted(
        [*anas_entries, *bos_entries, ("task", f"task 4 (manual): {NOBODYS} — open")])
    anas = entries(api, "ana")
    assert outside_operational(anas) == outside_operational(every)
    assert sorted(operational(anas)) == anas_entries
    assert sorted(operational(entries(api, "bo"))) == bos_entries
    assert entries(api, "sue") == every
    text = page(api, "ana")
    assert ANAS in text and COMPLAINT in text and "lead: entered at lead" in text
    assert BOS not in text and NOBODYS not in text and "opportunity 1" not in text
    text = page(api, "sue")
    assert all(shown in text for shown in (ANAS, BOS, NOBODYS, "opportunity 1"))


def test_an_entry_about_no_record_stays_hidden_from_an_agent(shop):
    """The rule fired on C2, a client without a lead, is about no record operational's rule
    could decide on: ana reads C2's case (hers), not the firing; a supervisor reads both."""
    api = shop
    assert operational(entries(api, "ana", customer="C2")) == [
        ("case", f"case 2 (normal): {COMPLAINT} — opened")]
    assert sorted(operational(entries(api, "sue", customer="C2"))) == [
        ("automation", "rule tag-cases: add_tag: ok"),
        ("case", f"case 2 (normal): {COMPLAINT} — opened")]


def test_a_limited_timeline_holds_limit_entries_the_member_reads(shop, clock):
    """With bo's four tasks operational's newest entries and one of ana's just older, ana's
    ``limit=3`` still holds three entries, the newest three of those she reads: her task
    among them although operational's newest three are all bo's; the clerk's likewise."""
    api = shop
    operational_api = api.crm.plugin("operational")
    clock.advance(hours=1)
    operational_api.create_task("C1", "Ring Ann again", "ana", clock.now())
    clock.advance(hours=1)
    for n in range(4):
        operational_api.create_task("C1", f"later {n}", "bo", clock.now())
    every = entries(api, "root")
    assert [entry[0] for entry in every[:5]] == ["operational"] * 5
    anas = entries(api, "ana")
    assert len(anas) > 3 and anas[0][2] == "task 5 (manual): Ring Ann again — open"
    assert entries(api, "ana", limit=3) == anas[:3]
    readable = outside_operational(every)
    assert len(readable) > 3
    assert entries(api, "cy", limit=3) == readable[:3]
