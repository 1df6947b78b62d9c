"""collaborative's routes: queues, work items (assign, start, hand off, acknowledge, complete),
team load, consents, outbound contact with consent; permissions.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
dee and eli are in support, ivy in billing (all agents); vic is a viewer.  A complaint is
routed to support by the default rules.
"""

from __future__ import annotations

import datetime as dt

import pytest

from crmkit.devtools.testing import api_client, api_pages
from web_support import problem

API = "/api/v1/collaborative"
NOW = "2025-01-01T12:00:00+00:00"


@pytest.fixture
def desk(crm, clock):
    """collaborative enabled; C2's complaint waits in support's queue."""
    crm.plugins.enable("collaborative")
    crm.staff.add("dee", "Dee", "support", role="agent")
    crm.staff.add("eli", "Eli", "support", role="agent")
    crm.staff.add("ivy", "Ivy", "billing", role="agent")
    crm.customers.add("C1", "Ada", preferred_channel="email")
    crm.customers.add("C2", "Bob", preferred_channel="sms")
    crm.interactions.record("C2", clock.now(), kind="complaint", channel="email")
    return crm


@pytest.fixture
def dee(desk):
    with api_client(desk, handle="dee") as client:
        yield client


def test_a_team_queue_and_one_item(dee, desk):
    queue = dee.get(f"{API}/queues/support")
    assert queue.status_code == 200, queue.text
    [item] = queue.json()["items"]
    assert {k: item[k] for k in ("customer", "team", "state", "assignee", "created_at",
                                 "ack_due_at")} == {
        "customer": "C2", "team": "support", "state": "queued", "assignee": None,
        "created_at": NOW, "ack_due_at": None}
    assert "customer_id" not in item and "external_id" not in item
    empty = {"items": [], "next_cursor": None}
    assert dee.get(f"{API}/queues/billing").json() == empty
    assert dee.get(f"{API}/queues/support", params={"state": "done"}).json() == empty
    assert problem(dee.get(f"{API}/queues/support", params={"state": "lost"}), 422)[
        "detail"].startswith("state: 'lost' is not a work item state")
    one = dee.get(f"{API}/items/{item['id']}").json()
    assert one == {**item, "history": [
        {"at": NOW, "actor": "system", "action": "routed", "from_state": None,
         "to_state": "queued", "team": "support", "assignee": None, "note": None,
         "from_team": None}]}
    assert dee.get(f"{API}/customers/C2/items").json() == [item]
    problem(dee.get(f"{API}/items/999"), 404)
    for malformed in ("%D9%A1", "%C2%B2", "9" * 25):  # Arabic-Indic 1, superscript 2, too large
        assert problem(dee.get(f"{API}/items/{malformed}"), 404)["detail"].startswith(
            "no work item with id")


def test_a_queue_is_answered_a_page_at_a_time_oldest_first(dee, desk, clock):
    start = clock.now()
    for n, minutes in enumerate((5, 1, 1, 3, -2)):  # two at one instant, one made earlier
        desk.customers.add(f"Q{n}", f"Q {n}")
        clock.set(start + dt.timedelta(minutes=minutes))
        desk.interactions.record(f"Q{n}", clock.now(), kind="complaint", channel="email")
    everything = desk.plugin("collaborative").queue("support")
    oldest_first = [(i.external_id, i.id) for i in everything]
    assert [ref for ref, _ in oldest_first] == ["Q4", "C2", "Q1", "Q2", "Q3", "Q0"]
    pages = api_pages(dee, f"{API}/queues/support", {"limit": 2})
    assert [[(item["customer"], item["id"]) for item in page] for page in pages] == [
        oldest_first[:2], oldest_first[2:4], oldest_first[4:]]
    for params in ({"limit": 0}, {"limit": 1001}, {"cursor": "MTI"},  # 12: not a position
                   {"cursor": "WyJzb29uIiwgMV0"}):  # ["soon", 1]: not an instant
        assert problem(dee.get(f"{API}/queues/support", params=params), 422), params


def test_a_work_item_through_its_states_and_a_hand_off(dee, desk):
    [item] = dee.get(f"{API}/queues/support").json()["items"]
    path = f"{API}/items/{item['id']}"
    assigned = dee.post(f"{path}/assign", json={"assignee": "eli"})
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["state"], assigned.json()["assignee"]) == ("assigned", "eli")
    assert assigned.json()["history"][-1]["actor"] == "dee"
    handed = dee.post(f"{path}/handoff", json={"team": "billing", "note": "a refund"})
    assert handed.status_code == 200, handed.text
    assert (handed.json()["team"], handed.json()["state"]) == ("billing", "queued")
    assert handed.json()["ack_due_at"] is not None
    assert (handed.json()["history"][-1]["note"], handed.json()["history"][-1]["from_team"]) == (
        "a refund", "support")
    with api_client(desk, handle="ivy") as ivy:
        acknowledged = ivy.post(f"{path}/acknowledge")
        assert acknowledged.status_code == 200, acknowledged.text
        assert acknowledged.json()["ack_due_at"] is None
        ivy.post(f"{path}/assign", json={"assignee": "ivy"})
        assert ivy.post(f"{path}/start").json()["state"] == "in_progress"
        done = ivy.post(f"{path}/complete")
    assert done.json()["state"] == "done"
    assert [h["action"] for h in done.json()["history"]] == [
        "routed", "assigned", "handed_off", "acknowledged", "assigned", "started", "done"]
    problem(dee.post(f"{path}/start"), 409)  # done: nothing starts again


def test_only_the_team_a_hand_off_waits_for_or_a_manager_may_acknowledge_it(dee, desk):
    [item] = dee.get(f"{API}/queues/support").json()["items"]
    path = f"{API}/items/{item['id']}"
    assert dee.post(f"{path}/handoff", json={"team": "billing", "note": "a refund"}
                    ).status_code == 200
    desk.plugin("collaborative").assign(item["id"], "ivy")
    for step, body in (("acknowledge", None), ("start", None),
                       ("handoff", {"team": "support", "note": "back"})):
        refused = problem(dee.post(f"{path}/{step}", json=body), 403)
        assert refused["detail"] == (
            f"work item {item['id']}: its hand-off waits for team 'billing' to acknowledge it, "
            "and 'dee' is in team 'support'; only a member of 'billing' (or one holding "
            "collaborative.any_team) may acknowledge it, start or hand on the item")
    unchanged = dee.get(path).json()
    assert (unchanged["team"], unchanged["state"]) == ("billing", "assigned")
    assert unchanged["ack_due_at"] is not None
    assert "acknowledged" not in [h["action"] for h in unchanged["history"]]
    desk.staff.add("mia", "Mia", "office", role="manager")
    with api_client(desk, handle="mia") as manager:
        acknowledged = manager.post(f"{path}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["ack_due_at"] is None
    assert acknowledged.json()["history"][-1]["actor"] == "mia"
    started = dee.post(f"{path}/start")  # nothing waits for acknowledgement any more
    assert started.status_code == 200, started.text


def test_a_bad_hand_off_is_one_problem_and_changes_nothing(dee, desk):
    [item] = dee.get(f"{API}/queues/support").json()["items"]
    path = f"{API}/items/{item['id']}"
    bad = problem(dee.post(f"{path}/handoff", json={"team": "billing"}), 422)
    assert [e["pointer"] for e in bad["errors"]] == [""]
    bad = problem(dee.post(f"{path}/handoff", json={"team": "billing", "note": 7}), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/note"]
    bad = problem(dee.post(f"{path}/handoff", json={"team": "biling", "note": "x"}), 422)
    assert "unknown team 'biling'" in bad["detail"]
    assert len(dee.get(path).json()["history"]) == 1
    assert dee.get(path).json()["team"] == "support"


def test_a_viewer_may_read_but_not_change(desk):
    [item] = desk.plugin("collaborative").queue("support")
    with api_client(desk, role="viewer") as viewer:
        assert [i["id"] for i in viewer.get(f"{API}/queues/support").json()["items"]] == [item.id]
        refused = problem(viewer.post(f"{API}/items/{item.id}/assign",
                                      json={"assignee": "dee"}), 403)
    assert "collaborative.write" in refused["detail"]
    assert desk.plugin("collaborative").work_item(item.id).state == "queued"


def test_team_load(dee):
    assert dee.get(f"{API}/teams/load").json() == [
        {"team": "support", "queued": 1, "assigned": 0, "in_progress": 0, "awaiting_ack": 0,
         "overdue_ack": 0}]


def test_consents_per_channel(dee, desk):
    assert dee.get(f"{API}/customers/C1/consents").json() == []
    granted = dee.put(f"{API}/customers/C1/consents/email",
                      json={"granted": True, "source": "phone call"})
    assert granted.status_code == 200, granted.text
    assert granted.json() == {"channel": "email", "granted": True, "source": "phone call",
                              "recorded_at": NOW}
    assert dee.get(f"{API}/customers/C1/consents").json() == [granted.json()]
    bad = problem(dee.put(f"{API}/customers/C1/consents/sms", json={"granted": "yes",
                                                                    "source": "x"}), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/granted"]
    problem(dee.put(f"{API}/customers/C9/consents/sms", json={"granted": True, "source": "x"}),
            404)
    with api_client(desk, role="viewer") as viewer:
        assert viewer.get(f"{API}/customers/C1/consents").json() == [granted.json()]
        problem(viewer.put(f"{API}/customers/C1/consents/email",
                           json={"granted": False, "source": "x"}), 403)
    assert [(c.channel, c.granted) for c in desk.customers.consents("C1")] == [("email", True)]
    [event] = desk.events.list(type="consent.changed")
    assert event.payload == {"external_id": "C1", "channel": "email", "granted": True}


def test_outbound_contact_needs_consent(dee, desk):
    before = len(desk.interactions.list())
    refused = problem(dee.post(f"{API}/contacts", json={"customer": "C1", "subject": "Refund"}),
                      422)
    assert "consent" in refused["detail"]
    assert len(desk.interactions.list()) == before
    assert dee.put(f"{API}/customers/C1/consents/email",
                   json={"granted": True, "source": "web form"}).status_code == 200
    sent = dee.post(f"{API}/contacts", json={"customer": "C1", "subject": "Refund"})
    assert sent.status_code == 201, sent.text
    assert {k: sent.json()[k] for k in ("customer", "channel", "preferred_channel",
                                        "override_reason", "subject")} == {
        "customer": "C1", "channel": "email", "preferred_channel": "email",
        "override_reason": None, "subject": "Refund"}
    [recorded] = [i for i in desk.interactions.list() if i.id == sent.json()["interaction_id"]]
    assert (recorded.kind, recorded.direction, recorded.actor) == ("message", "outbound", "dee")
