"""operational's pipeline board ``/operational/board`` over HTTP (no browser): columns and
cards, the weighted pipeline per owner, moves through operational's rules, CSRF, the viewer,
the row-level rule, names shown as text, the navigation link.

In-process (``api``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
ana and bo are agents (each sees and moves only their own), mia a manager, vic a viewer.
The browser test (drag and drop, the keyboard control) is test_browser_board.py.
"""

from __future__ import annotations

import re

import pytest

from crmkit.web.signin import CSRF_REFUSED
from crmkit.web.plugin_pages import NO_PAGE
from web_support import PASSWORD, csrf, sign_in, without_csrf_tokens

SCRIPT_CUSTOMER = "<script>alert('c')</script> Cleo"
SCRIPT_DEAL = "<img src=x onerror=alert(1)> Big deal"


@pytest.fixture
def deals(api):
    """operational enabled; ana's deal on C1 (whose name is a script) at proposal, bo's on
    C2 at qualification; returns {"ana": id, "bo": id}."""
    crm = api.crm
    crm.plugins.enable("operational")
    for handle, role in (("ana", "agent"), ("bo", "agent"), ("mia", "manager"),
                         ("vic", "viewer")):
        crm.staff.add(handle, handle.title(), "sales", role=role)
        crm.staff.set_password(handle, PASSWORD)
    crm.customers.add_many([{"external_id": "C1", "name": SCRIPT_CUSTOMER},
                            {"external_id": "C2", "name": "Dan"}])
    ops = crm.plugin("operational")
    return {"ana": ops.create_opportunity("C1", SCRIPT_DEAL, "1200.50", "GBP", "ana",
                                          stage="proposal"),
            "bo": ops.create_opportunity("C2", "Small deal", "200", "GBP", "bo")}


def stage_of(crm, opportunity_id: int) -> tuple[str, int]:
    """(stage, number of stage history entries) of an opportunity."""
    ops = crm.plugin("operational")
    return (ops.opportunity(opportunity_id)["stage"],
            len(ops.stage_history("opportunity", opportunity_id)))


def card(page, opportunity_id: int) -> str:
    found = re.search(rf'<article class="deal" id="opportunity-{opportunity_id}".*?</article>',
                      page.text, re.S)
    assert found, f"no card of opportunity {opportunity_id}"
    return found.group(0)


def column_of(page, opportunity_id: int) -> str:
    """The stage of the column holding the card."""
    before = page.text[:page.text.index(f'id="opportunity-{opportunity_id}"')]
    return re.findall(r'<section class="column[^"]*" data-stage="([a-z_]+)"', before)[-1]


def test_the_board_has_a_column_per_stage_and_cards_with_names_as_text(api, deals):
    page = sign_in(api, "mia").get("/operational/board")
    assert page.status_code == 200
    assert re.findall(r'data-stage="([a-z_]+)"', page.text) == [
        "qualification", "needs_analysis", "proposal", "negotiation", "commit", "won", "lost"]
    shown = card(page, deals["ana"])
    assert column_of(page, deals["ana"]) == "proposal"
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt; Big deal</h3>" in shown
    assert ">&lt;script&gt;alert(&#39;c&#39;)&lt;/script&gt; Cleo</a>" in shown
    assert 'href="/customers/C1"' in shown
    assert "<dd data-deal-amount>£1,200.50</dd>" in shown
    assert "<dt>Owner</dt><dd>ana</dd>" in shown and "<dt>Probability</dt><dd>50%</dd>" in shown
    assert '<label for="move-%d">Move to' % deals["ana"] in shown
    options = re.findall(r'<option value="([a-z_]+)">', shown)
    assert options == ["qualification", "needs_analysis", "negotiation", "commit", "won", "lost"]
    assert 'src="/operational/static/board.js"' in page.text
    assert "data-movable" in shown
    assert column_of(page, deals["bo"]) == "qualification"


def test_the_weighted_pipeline_per_owner_is_the_api_s_sum(api, deals):
    page = sign_in(api, "mia").get("/operational/board")
    rows = re.findall(r'<tr data-owner="(\w*)">.*?<td data-label="Opportunities">(\d+)</td>'
                      r'.*?<td data-label="Amount">([^<]+)</td>.*?data-weighted-amount>([^<]+)<',
                      page.text, re.S)
    assert rows == [("ana", "1", "£1,200.50", "£600.25"),  # 50 %
                    ("bo", "1", "£200.00", "£20.00")]  # qualification: 10 %


def test_a_legal_move_goes_through_the_api_and_is_audited_under_the_member(api, deals):
    client = sign_in(api, "ana")
    page = client.get("/operational/board")
    answer = client.post(f"/operational/board/opportunities/{deals['ana']}/stage",
                         data={"csrf_token": csrf(page), "stage": "negotiation"})
    assert answer.status_code == 303
    assert answer.headers["location"] == (f"/operational/board?moved={deals['ana']}"
                                          f"#opportunity-{deals['ana']}")
    assert stage_of(api.crm, deals["ana"]) == ("negotiation", 2)
    history = api.crm.plugin("operational").stage_history("opportunity", deals["ana"])
    assert (history[-1]["from_stage"], history[-1]["to_stage"], history[-1]["actor"]) == (
        "proposal", "negotiation", "ana")
    after = client.get(answer.headers["location"])
    assert column_of(after, deals["ana"]) == "negotiation"
    assert ('role="status" data-moved="%d"' % deals["ana"]) in after.text
    assert "moved to negotiation." in after.text
    assert "&lt;img src=x onerror=alert(1)&gt; Big deal" in after.text  # in the notice too
    weighted = re.search(r'<tr data-owner="ana">.*?data-weighted-amount>([^<]+)<', after.text,
                         re.S).group(1)
    assert weighted == "£900.38"  # 1200.50 × 75 %, rounded by the money filter


def test_an_illegal_move_shows_the_rule_and_changes_nothing(api, deals):
    client = sign_in(api, "ana")
    token = csrf(client.get("/operational/board"))
    before = stage_of(api.crm, deals["ana"])
    answer = client.post(f"/operational/board/opportunities/{deals['ana']}/stage",
                         data={"csrf_token": token, "stage": "qualification"})
    assert answer.status_code == 422
    rule = (f"opportunity {deals['ana']}: moving back from &#39;proposal&#39; to "
            "&#39;qualification&#39; is not allowed (funnel.allow_backward is false)")
    assert f"<span data-move-error>{rule}</span>" in answer.text
    assert column_of(answer, deals["ana"]) == "proposal"  # the card where it was
    assert stage_of(api.crm, deals["ana"]) == before
    unknown = client.post(f"/operational/board/opportunities/{deals['ana']}/stage",
                          data={"csrf_token": token, "stage": "heaven"})
    assert unknown.status_code == 422
    assert "&#39;heaven&#39; is not an opportunity stage (allowed: qualification," in unknown.text
    assert client.post(f"/operational/board/opportunities/{deals['ana']}/stage",
                       data={"csrf_token": token, "stage": "won"}).status_code == 303
    final = client.post(f"/operational/board/opportunities/{deals['ana']}/stage",
                        data={"csrf_token": token, "stage": "lost"})
    assert final.status_code == 422
    assert ("cannot leave &#39;won&#39; (create a new opportunity to reopen it)" in final.text)
    assert stage_of(api.crm, deals["ana"]) == ("won", 2)
    assert 'data-movable' not in card(final, deals["ana"])  # closed: no move control


def test_a_viewer_sees_no_move_control_and_a_forged_move_is_refused(api, deals):
    watched = api.crm.plugin("operational").create_opportunity("C1", "Watched", "10", "GBP",
                                                               "vic")
    client = sign_in(api, "vic")
    page = client.get("/operational/board")
    assert page.status_code == 200
    # a viewer owning one sees it (*.read), its name and the customer's masked
    assert "data-deal-name>***</h3>" in card(page, watched)
    assert "data-movable" not in page.text and "<form class=\"move\"" not in page.text
    shown = without_csrf_tokens(page.text)
    assert "Cleo" not in shown and "Watched" not in shown and ">***</a>" in card(page, watched)
    for opportunity in (watched, deals["ana"]):
        answer = client.post(f"/operational/board/opportunities/{opportunity}/stage",
                             data={"csrf_token": csrf(page), "stage": "proposal"})
        assert answer.status_code == 403
        assert "operational.write" in answer.text
    assert stage_of(api.crm, watched) == ("qualification", 1)
    assert stage_of(api.crm, deals["ana"]) == ("proposal", 1)


def test_a_move_without_the_session_s_csrf_token_is_refused(api, deals):
    client = sign_in(api, "ana")
    for data in ({"stage": "negotiation"}, {"stage": "negotiation", "csrf_token": "forged"}):
        answer = client.post(f"/operational/board/opportunities/{deals['ana']}/stage", data=data)
        assert answer.status_code == 403
        assert CSRF_REFUSED.replace("'", "&#39;") in answer.text
    assert stage_of(api.crm, deals["ana"]) == ("proposal", 1)


def test_an_agent_sees_and_moves_only_their_own(api, deals):
    client = sign_in(api, "ana")
    page = client.get("/operational/board")
    assert f'id="opportunity-{deals["ana"]}"' in page.text
    assert f'id="opportunity-{deals["bo"]}"' not in page.text and "Small deal" not in page.text
    assert re.findall(r'<tr data-owner="(\w*)">', page.text) == ["ana"]
    answer = client.post(f"/operational/board/opportunities/{deals['bo']}/stage",
                         data={"csrf_token": csrf(page), "stage": "proposal"})
    assert answer.status_code == 404  # as the API: nothing tells another's deal exists
    assert f"no opportunity with id {deals['bo']}" in answer.text
    assert stage_of(api.crm, deals["bo"]) == ("qualification", 1)


def test_the_board_is_in_the_navigation_and_gone_when_operational_is_disabled(api, deals):
    client = sign_in(api, "vic")  # a viewer holds operational.read
    link = '<a href="/operational/board" data-nav="operational">Pipeline</a>'
    assert link in client.get("/customers").text
    api.crm.plugins.disable("operational")
    assert link not in client.get("/customers").text
    page = client.get("/operational/board")
    assert page.status_code == 404
    assert NO_PAGE.replace("'", "&#39;") in page.text
