"""My work ``/my-work`` over HTTP (no browser), with the sections the built-in plugins give
(``crmkit_my_work``): operational's open tasks (complete) and open cases with their SLA
countdown on the CRM clock, collaborative's hand-offs to the member's team (acknowledge);
CSRF, the viewer, the row-level rule, names and notes shown as text, worded empty states.

In-process (``api``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
dee is an agent in support (cases go to support), ivy an agent in billing, vic a viewer in
billing, mia a manager in the office with no work.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crmkit.web.signin import CSRF_REFUSED
from web_support import PASSWORD, csrf, sign_in, without_csrf_tokens

SCRIPT_CUSTOMER = "<script>alert('c')</script> Cleo"


def members(crm, *people: tuple[str, str, str]) -> None:
    for handle, team, role in people:
        crm.staff.add(handle, handle.title(), team, role=role)
        crm.staff.set_password(handle, PASSWORD)


def entry(page, kind: str, record_id: int) -> str:
    """The list item of one task, case or hand-off on the page."""
    found = re.search(rf'<li data-{kind}="{record_id}">.*?</li>', page.text, re.S)
    assert found, f"no {kind} {record_id} on the page"
    return " ".join(found.group(0).split())


@pytest.fixture
def work(api, clock):
    """operational and collaborative enabled; dee's tasks (one due in 2 h 5 min, one overdue
    by 1 d 3 h) and cases (one high opened now, one urgent opened 6 h ago: breached); ivy's
    task; C2's call handed from its team to billing by dee with a note."""
    crm = api.crm
    crm.plugins.enable("operational")
    crm.plugins.enable("collaborative")
    members(crm, ("dee", "support", "agent"), ("ivy", "billing", "agent"),
            ("vic", "billing", "viewer"), ("mia", "office", "manager"))
    crm.customers.add_many([{"external_id": "C1", "name": SCRIPT_CUSTOMER},
                            {"external_id": "C2", "name": "Dan"}])
    ops = crm.plugin("operational")
    now = clock.now()
    ids = {"soon": ops.create_task("C1", "Call <b>back</b>", "dee",
                                   now + dt.timedelta(hours=2, minutes=5)),
           "late": ops.create_task("C2", "Send the quote", "dee",
                                   now - dt.timedelta(days=1, hours=3)),
           "ivy": ops.create_task("C2", "Ivy's own", "ivy", now + dt.timedelta(hours=1))}
    clock.set(now - dt.timedelta(hours=6))
    ids["urgent"] = ops.open_case("C2", "Down since dawn", "urgent")
    clock.set(now)
    ids["high"] = ops.open_case("C1", "Cannot log in", "high")
    crm.interactions.record("C2", now, kind="call", channel="phone", direction="inbound")
    [item] = crm.plugin("collaborative").items_of("C2")
    crm.run_transaction(lambda tx: crm.plugin("collaborative").hand_off(
        item.id, "billing", "A <i>billing</i> question"), actor="dee")
    ids["item"] = item.id
    return ids


def test_my_open_tasks_with_due_and_overdue_in_words(api, work):
    page = sign_in(api, "dee").get("/my-work")
    assert page.status_code == 200
    assert "As of Jan 1, 2025, 12:00\u202fPM (the CRM's clock)." in page.text
    soon = entry(page, "task", work["soon"])
    assert "<strong>Call &lt;b&gt;back&lt;/b&gt;</strong>" in soon
    assert ">&lt;script&gt;alert(&#39;c&#39;)&lt;/script&gt; Cleo</a>" in soon
    assert "Due in 2 h 5 min (Jan 1, 2025, 2:05 PM)" in soon
    late = entry(page, "task", work["late"])
    assert "Overdue by 1 d 3 h</span> (Dec 31, 2024, 9:00 AM)" in late
    assert '<span aria-hidden="true">⚠ </span>' in late  # a mark and words, not colour alone
    assert "Complete<span" in late
    assert f'data-task="{work["ivy"]}"' not in page.text  # another's task is not listed
    assert "<script>alert" not in page.text and "<b>back" not in page.text


def test_my_open_cases_count_down_their_sla_on_the_crm_clock(api, work):
    page = sign_in(api, "dee").get("/my-work")
    high = entry(page, "case", work["high"])
    assert "Case #%d: Cannot log in</strong>" % work["high"] in high
    assert ('data-sla="running">First response: 4 h 0 min left (due Jan 1, 2025, 4:00 PM)'
            in high)
    assert 'data-sla="running">Resolution: 1 d 0 h left (due Jan 2, 2025, 12:00 PM)' in high
    urgent = entry(page, "case", work["urgent"])
    assert ('data-sla="breached">First response: <span class="late"><span aria-hidden="true">'
            '⚠ </span>SLA breached 5 h 0 min ago</span> (due Jan 1, 2025, 7:00 AM)') in urgent
    assert "Resolution: <span class=\"late\"><span aria-hidden=\"true\">⚠ </span>SLA breached " \
           "2 h 0 min ago</span> (due Jan 1, 2025, 10:00 AM)" in urgent
    api.crm.run_transaction(lambda tx: api.crm.plugin("operational").respond(work["high"]),
                            actor="dee")
    answered = entry(sign_in(api, "dee").get("/my-work"), "case", work["high"])
    assert "First response: given" in answered and "4 h 0 min left" not in answered


def test_completing_a_task_goes_through_operational_s_api(api, work):
    client = sign_in(api, "dee")
    page = client.get("/my-work")
    answer = client.post(f"/operational/my-work/tasks/{work['soon']}/done", data={"csrf_token": csrf(page)})
    assert answer.status_code == 303
    assert re.fullmatch(r"/my-work\?done=operational\.task&mark=[\w-]{22}",
                        answer.headers["location"])
    task = api.crm.plugin("operational").task(work["soon"])
    assert (task["status"], task["closed_at"].isoformat()) == ("done",
                                                               "2025-01-01T12:00:00+00:00")
    after = client.get(answer.headers["location"])
    assert "Task completed." in after.text and f'data-task="{work["soon"]}"' not in after.text
    again = client.post(f"/operational/my-work/tasks/{work['soon']}/done", data={"csrf_token": csrf(page)})
    assert again.status_code == 422
    assert f"task {work['soon']}: it is already done (only open tasks close)" in again.text


def test_acknowledging_a_hand_off_goes_through_collaborative_s_api(api, work):
    client = sign_in(api, "ivy")
    page = client.get("/my-work")
    shown = entry(page, "handoff", work["item"])
    assert "From " in shown and " by dee: <q>A &lt;i&gt;billing&lt;/i&gt; question</q>" in shown
    assert "Acknowledge within 4 h 0 min (Jan 1, 2025, 4:00 PM)" in shown
    assert "Work handed to your team (billing)" in page.text
    answer = client.post(f"/collaborative/my-work/handoffs/{work['item']}/acknowledge",
                         data={"csrf_token": csrf(page)})
    assert answer.status_code == 303
    assert re.fullmatch(r"/my-work\?done=collaborative\.handoff&mark=[\w-]{22}",
                        answer.headers["location"])
    history = api.crm.plugin("collaborative").history(work["item"])
    assert (history[-1].action, history[-1].actor) == ("acknowledged", "ivy")
    after = client.get(answer.headers["location"])
    assert "Hand-off acknowledged." in after.text
    assert "No hand-offs are waiting for your team." in after.text
    again = client.post(f"/collaborative/my-work/handoffs/{work['item']}/acknowledge",
                        data={"csrf_token": csrf(page)})
    assert again.status_code == 409
    assert f"work item {work['item']} has no hand-off waiting for acknowledgement" in again.text


def test_an_agent_of_another_team_cannot_acknowledge_its_hand_off(api, work):
    client = sign_in(api, "dee")  # support: the item waits for billing
    answer = client.post(f"/collaborative/my-work/handoffs/{work['item']}/acknowledge",
                         data={"csrf_token": csrf(client.get("/my-work"))})
    assert answer.status_code == 403
    assert ("its hand-off waits for team &#39;billing&#39; to acknowledge it, and &#39;dee&#39; "
            "is in team &#39;support&#39;") in answer.text
    assert api.crm.plugin("collaborative").work_item(work["item"]).ack_due_at is not None


def test_a_viewer_sees_no_buttons_and_a_forged_post_is_refused(api, work):
    client = sign_in(api, "vic")
    page = client.get("/my-work")
    assert page.status_code == 200
    assert f'data-handoff="{work["item"]}"' in page.text  # vic's team, billing
    assert "<form" not in page.text.split('id="operational-tasks-title"')[1]  # no button
    assert "Dan" not in without_csrf_tokens(page.text) and ">***</a>" in entry(page, "handoff", work["item"])
    for path, permission in ((f"/collaborative/my-work/handoffs/{work['item']}/acknowledge",
                              "collaborative.write"),
                             (f"/operational/my-work/tasks/{work['soon']}/done", "operational.write")):
        answer = client.post(path, data={"csrf_token": csrf(page)})
        assert answer.status_code == 403 and permission in answer.text
    assert api.crm.plugin("collaborative").work_item(work["item"]).ack_due_at is not None
    assert api.crm.plugin("operational").task(work["soon"])["status"] == "open"


def test_a_post_without_the_csrf_token_is_refused(api, work):
    client = sign_in(api, "dee")
    for data in ({}, {"csrf_token": "forged"}):
        answer = client.post(f"/operational/my-work/tasks/{work['soon']}/done", data=data)
        assert answer.status_code == 403
        assert CSRF_REFUSED.replace("'", "&#39;") in answer.text
    assert api.crm.plugin("operational").task(work["soon"])["status"] == "open"


def test_an_agent_cannot_complete_another_s_task(api, work):
    client = sign_in(api, "dee")
    answer = client.post(f"/operational/my-work/tasks/{work['ivy']}/done",
                         data={"csrf_token": csrf(client.get("/my-work"))})
    assert answer.status_code == 404  # as the API: nothing tells it exists
    assert f"no task with id {work['ivy']}" in answer.text
    assert api.crm.plugin("operational").task(work["ivy"])["status"] == "open"


def test_empty_states_are_worded(api, work):
    page = sign_in(api, "mia").get("/my-work")
    assert "No open tasks are assigned to you." in page.text
    assert "No open cases are assigned to you." in page.text
    assert "No hand-offs are waiting for your team." in page.text


def test_only_enabled_plugins_give_sections_and_none_is_worded(api):
    members(api.crm, ("dee", "support", "agent"))
    page = sign_in(api, "dee").get("/my-work")
    assert page.status_code == 200 and "data-section" not in page.text
    assert "Nothing is waiting for you: no enabled plugin lists work here." in page.text
    api.crm.plugins.enable("operational")
    page = sign_in(api, "dee").get("/my-work")
    assert re.findall(r'data-section="([\w-]+)"', page.text) == ["operational-tasks",
                                                                  "operational-cases"]
    assert "No open tasks are assigned to you." in page.text


def test_a_team_whose_name_needs_percent_encoding_sees_its_hand_offs(api, work):
    """The section asks the API for the team's queue with the name percent-encoded in the
    path, as over HTTP; the API decodes it (it once looked for a team named 'front%20desk')."""
    crm = api.crm
    members(crm, ("fay", "front desk", "agent"))
    crm.run_transaction(lambda tx: crm.plugin("collaborative").hand_off(
        work["item"], "front desk", "For the front desk"), actor="ivy")
    page = sign_in(api, "fay").get("/my-work")
    assert "For the front desk" in entry(page, "handoff", work["item"])
