"""Plugins' row-level rules on single records and writes: a customer a rule hides from a member
(``customers.read``) does not exist for them anywhere in the API.  Every route naming it (in
its path, in its body, or through a record of its named by id: a task, a case, a work item)
answers exactly as for an unknown customer or record (the same status and problem, nothing
written), the core's and every plugin's, and the web pages too; a customer the member sees
is answered as usual.

The webtest plugin's rule hides C1 (tagged "secret") from mia, a manager; C9 and record id
999999 do not exist; C3 is plain.  A customer merged into C1 is unknown too.  The API
in-process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable

import pytest

from web_support import (PASSWORD, csrf, row_level_api, sign_in, stored_rows,
                         without_csrf_tokens)

UTC = dt.timezone.utc
CUSTOMERS = ("C1", "C9", "C3")
"""A customer hidden from mia, an unknown one and one she sees."""
UNKNOWN_ID = 999999
"""The id of no record."""


@pytest.fixture
def web(crm_url, clock):
    """The API with the webtest plugin's rules (``web_support.row_level_api``)."""
    with row_level_api(crm_url, clock) as helper:
        yield helper


def api(web) -> Callable[[str, str, Any], Any]:
    """A sender of ``(method, path under /api/v1/, JSON body)`` requests as mia."""
    return lambda method, path, body: web.client(web.manager).request(
        method, f"/api/v1/{path}", json=body)


def pages(web) -> Callable[[str, str, Any], Any]:
    """A sender of ``(method, path, form)`` page requests as mia, signed in (a POST with the
    session's CSRF token)."""
    web.crm.staff.set_password("mia", PASSWORD)
    sign_in(web, "mia")
    token = csrf(web.client().get("/customers"))

    def send(method, path, form):
        client = web.client()
        if method == "GET":
            return client.get(path)
        return client.post(path, data={**(form or {}), "csrf_token": token})
    return send


def _filled(body: Any, ref: str | int) -> Any:
    """``body`` with ``ref`` for each ``"{ref}"`` value (as it is: an id stays a number) and
    inside each text."""
    text = json.dumps(body).replace('"{ref}"', json.dumps(ref)).replace("{ref}", str(ref))
    return json.loads(text)


def answers_as_unknown(send, crm, routes: list[tuple[str, str, Any]], refs=CUSTOMERS) -> None:
    """Each of ``routes`` (method, path, body; ``{ref}`` where the customer or record goes)
    answers for the hidden ``refs[0]`` what it answers for the unknown ``refs[1]`` (the
    status and the whole answer, the refs swapped), writing nothing, and for the visible
    ``refs[2]`` a success.  The routes run in order: a visible one's write stays."""
    hidden, unknown, visible = refs
    for method, path, body in routes:
        def answer(ref: str | int):
            return send(method, path.format(ref=ref), _filled(body, ref))
        expected = answer(unknown)
        assert expected.status_code in (404, 422), (method, path, expected.text)
        before = stored_rows(crm)
        refused = answer(hidden)
        assert stored_rows(crm) == before, (method, path)
        # a page's random CSRF tokens blanked: one may hold the unknown ref's characters
        assert (refused.status_code, without_csrf_tokens(refused.text)) == (
            expected.status_code,
            without_csrf_tokens(expected.text).replace(str(unknown), str(hidden))), (
                method, path)
        shown = answer(visible)
        assert shown.status_code < 400, (method, path, shown.text)


def test_the_core_routes_and_pages_answer_a_hidden_customer_as_unknown(web):
    crm = web.crm
    crm.customers.add_many([{"external_id": ref} for ref in ("C4", "C5")])
    answers_as_unknown(pages(web), crm, [
        ("GET", "/customers/{ref}", None),
        ("POST", "/customers/{ref}/notes", {"note": "Called back"}),
    ])
    note = {"customer": "{ref}", "kind": "note", "payload": {"text": "a note"}}
    answers_as_unknown(api(web), crm, [
        ("GET", "customers/{ref}", None),
        ("GET", "customers/{ref}/timeline", None),
        ("GET", "customers/{ref}/export", None),
        ("PATCH", "customers/{ref}", {"lifecycle_stage": "customer"}),
        ("POST", "interactions", note),
        ("POST", "interactions", [{**note, "customer": "C2"}, note]),
        ("POST", "customers/{ref}/merge", {"duplicate": "C4"}),
    ])
    answers_as_unknown(api(web), crm, [("POST", "customers/C3/merge", {"duplicate": "{ref}"})],
                       ("C1", "C9", "C5"))
    answers_as_unknown(api(web), crm, [("POST", "customers/{ref}/erase", None)])


def test_a_hidden_organisation_is_refused_as_unknown_in_a_customers_body(web):
    """A customer created or changed to belong to an organisation a rule hides is refused as
    one naming an unknown organisation (O2 hidden, O9 unknown, O1 seen)."""
    web.crm.customers.add("O2", "Elm Ltd", type="organisation", tags=["secret"])
    answers_as_unknown(api(web), web.crm, [
        ("POST", "customers", {"external_id": "N-{ref}", "organisation": "{ref}"}),
        ("PATCH", "customers/C3", {"organisation": "{ref}"}),
    ], ("O2", "O9", "O1"))


def test_a_customer_merged_into_a_hidden_one_is_answered_as_an_unknown_one(web):
    crm = web.crm
    crm.plugins.enable("collaborative")
    crm.customers.add_many([{"external_id": ref} for ref in ("M1", "M3")])
    crm.customers.merge("C1", "M1")
    crm.customers.merge("C3", "M3")
    refs = ("M1", "C9", "C3")  # merged into the hidden C1, unknown, visible
    answers_as_unknown(pages(web), crm, [("GET", "/customers/{ref}", None)], refs)
    answers_as_unknown(api(web), crm, [
        ("GET", "customers/{ref}", None),
        ("GET", "customers/{ref}/timeline", None),
        ("GET", "interactions?customer={ref}", None),
        ("GET", "collaborative/customers/{ref}/items", None),
        ("PATCH", "customers/{ref}", {"lifecycle_stage": "customer"}),
        ("POST", "interactions", {"customer": "{ref}", "kind": "note"}),
    ], refs)
    merged = api(web)("GET", "customers/M3", None)  # into a customer mia sees: said so
    assert merged.status_code == 404
    assert merged.json()["detail"].startswith("customer 'M3' was merged into 'C3' at ")


def test_operational_records_and_writes_answer_a_hidden_customer_as_unknown(web):
    crm = web.crm
    crm.plugins.enable("operational")
    ops = crm.plugin("operational")
    ids: dict[str, dict[str, int]] = {}
    for ref in ("C1", "C3"):
        ops.set_lead_stage(ref, "mql")
        ids[ref] = {
            "opportunity": ops.create_opportunity(ref, f"{ref}'s refit", "10"),
            "board": ops.create_opportunity(ref, f"{ref}'s upgrade", "20"),
            "task": ops.create_task(ref, f"Call {ref}", "mia", dt.datetime(2024, 12, 30,
                                                                          tzinfo=UTC)),
            "work": ops.create_task(ref, f"Visit {ref}", "mia", dt.datetime(2024, 12, 30,
                                                                           tzinfo=UTC)),
            "case": ops.open_case(ref, f"{ref}'s complaint")}

    def records(kind: str) -> tuple[int, int, int]:
        return ids["C1"][kind], UNKNOWN_ID, ids["C3"][kind]

    answers_as_unknown(pages(web), crm, [
        ("POST", "/operational/board/opportunities/{ref}/stage", {"stage": "proposal"}),
    ], records("board"))
    answers_as_unknown(pages(web), crm, [("POST", "/operational/my-work/tasks/{ref}/done", {})],
                       records("work"))
    send, due = api(web), "2024-12-30T09:00:00Z"
    answers_as_unknown(send, crm, [
        ("GET", "operational/leads/{ref}", None),
        ("POST", "operational/leads/{ref}/assign", {}),
        ("POST", "operational/opportunities", {"customer": "{ref}", "name": "New", "amount": "5"}),
        ("POST", "operational/tasks", {"customer": "{ref}", "subject": "Call", "due_at": due}),
        ("POST", "operational/cases", {"customer": "{ref}", "subject": "Broken"}),
        ("POST", "operational/leads/{ref}/stage", {"stage": "disqualified"}),
    ])
    answers_as_unknown(send, crm, [
        ("GET", "operational/opportunities/{ref}", None),
        ("POST", "operational/opportunities/{ref}/stage", {"stage": "proposal"}),
    ], records("opportunity"))
    answers_as_unknown(send, crm, [
        ("GET", "operational/tasks/{ref}", None),
        ("POST", "operational/tasks/{ref}/status", {"status": "done"}),
    ], records("task"))
    answers_as_unknown(send, crm, [
        ("GET", "operational/cases/{ref}", None),
        ("POST", "operational/cases/{ref}/respond", None),
        ("POST", "operational/cases/{ref}/status", {"status": "in_progress"}),
    ], records("case"))


def test_loyalty_and_catalogue_routes_answer_a_hidden_customer_as_unknown(web):
    crm = web.crm
    crm.plugins.enable("loyalty", {"tiers": [], "milestones": [], "expiry_mode": "none"})
    crm.plugins.enable("catalogue")
    for ref in ("C1", "C3"):
        crm.interactions.record(ref, dt.datetime(2024, 12, 10, tzinfo=UTC), kind="purchase",
                                amount="100")
    crm.plugin("loyalty").add_reward("MUG", 30, stock=5, name="A mug")
    answers_as_unknown(api(web), crm, [
        ("GET", "loyalty/members/{ref}", None),
        ("GET", "loyalty/members/{ref}/statement", None),
        ("POST", "loyalty/members/{ref}/redeem", {"reward": "MUG"}),
        ("POST", "loyalty/members/{ref}/adjust", {"points": 5, "reason": "goodwill"}),
        ("GET", "catalogue/customers/{ref}/offers", None),
    ])


def test_collaborative_routes_and_pages_answer_a_hidden_customer_as_unknown(web, clock):
    crm = web.crm
    crm.plugins.enable("collaborative")
    crm.staff.add("dee", "Dee", "support")
    crm.staff.add("ivy", "Ivy", "billing")
    crm.customers.update("C3", preferred_channel="email")
    crm.customers.set_consent("C3", "email", True, source="web form")
    for ref in ("C1", "C3"):
        crm.interactions.record(ref, clock.now(), kind="complaint", channel="email")
    items = {item.external_id: item.id for item in crm.plugin("collaborative").queue("support")}
    send = api(web)
    answers_as_unknown(send, crm, [
        ("GET", "collaborative/customers/{ref}/items", None),
        ("GET", "collaborative/customers/{ref}/consents", None),
        ("PUT", "collaborative/customers/{ref}/consents/sms",
         {"granted": True, "source": "phone call"}),
        ("POST", "collaborative/contacts", {"customer": "{ref}", "subject": "Your order"}),
    ])
    ids = (items["C1"], UNKNOWN_ID, items["C3"])
    answers_as_unknown(send, crm, [
        ("GET", "collaborative/items/{ref}", None),
        ("POST", "collaborative/items/{ref}/assign", {"assignee": "dee"}),
        ("POST", "collaborative/items/{ref}/handoff", {"team": "billing", "note": "a refund"}),
        ("POST", "collaborative/items/{ref}/acknowledge", None),
        ("POST", "collaborative/items/{ref}/handoff", {"team": "support", "note": "not ours"}),
    ], ids)
    answers_as_unknown(pages(web), crm, [
        ("POST", "/collaborative/my-work/handoffs/{ref}/acknowledge", {})], ids)
    answers_as_unknown(send, crm, [
        ("POST", "collaborative/contacts", {"customer": "C3", "subject": "About your complaint",
                                            "work_item_id": "{ref}"}),
        ("POST", "collaborative/items/{ref}/assign", {"assignee": "dee"}),
        ("POST", "collaborative/items/{ref}/start", None),
        ("POST", "collaborative/items/{ref}/complete", None),
    ], ids)


def test_idic_social_and_valuechain_routes_answer_a_hidden_customer_as_unknown(web):
    crm = web.crm
    for name in ("analytical", "idic", "social", "valuechain"):
        crm.plugins.enable(name)
    social, chain = crm.plugin("social"), crm.plugin("valuechain")
    for ref in ("C1", "C3"):
        social.link_handle(ref, "instagram", f"{ref.lower()}_handle")
        chain.mark_ssc(ref, ["high_value"])
    crm.customers.add_many([{"external_id": ref} for ref in ("N1", "N2", "N3")])
    code = social.referral_code("C2")
    answers_as_unknown(api(web), crm, [
        ("GET", "idic/customers/{ref}/group", None),
        ("GET", "idic/customers/{ref}/progress", None),
        ("POST", "idic/customers/{ref}/dialogues", {"summary": "Asked about the refit",
                                                     "channel": "phone",
                                                     "direction": "inbound"}),
        ("POST", "idic/duplicates/dismiss", {"first": "{ref}", "second": "C2"}),
        ("POST", "idic/duplicates/dismiss", {"first": "N1", "second": "{ref}"}),
        ("POST", "social/customers/{ref}/identities", {"platform": "x", "handle": "{ref}x"}),
        ("DELETE", "social/customers/{ref}/identities/x/{ref}x", None),
        ("POST", "social/customers/{ref}/referral-code", None),
        ("POST", "social/referrals", {"code": code, "referee": "{ref}"}),
        ("DELETE", "valuechain/sscs/{ref}", None),
        ("POST", "valuechain/sscs", {"customer": "{ref}", "reasons": ["benchmark"]}),
        ("POST", "valuechain/network", {"kind": "partner", "name": "Acme", "role": "installs",
                                        "customer": "{ref}"}),
    ])
    # the code of a customer hidden from mia is an unknown code to her (its holder does not
    # exist for her), not a referral she could neither list nor be told the referrer of
    answers_as_unknown(api(web), crm, [
        ("POST", "social/referrals", {"code": "{ref}", "referee": "N3"}),
    ], (social.referral_code("C1"), "ZZZZ2345", social.referral_code("C3")))


def test_a_referee_referred_by_a_hidden_customer_is_refused_without_naming_it(web):
    """A referee mia sees who was already referred by C1 (hidden from her) is refused as
    already referred, the referrer unnamed; one referred by C3, whom she sees, names C3."""
    crm = web.crm
    crm.plugins.enable("social")
    social = crm.plugin("social")
    crm.customers.add_many([{"external_id": ref} for ref in ("N1", "N2")])
    social.redeem_referral(social.referral_code("C1"), "N1")
    social.redeem_referral(social.referral_code("C3"), "N2")
    code, send = social.referral_code("C2"), api(web)
    send("GET", "social/referrals", None)  # mia's token's first use is stored
    before = stored_rows(crm)
    details = {}
    for referee in ("N1", "N2"):
        answer = send("POST", "social/referrals", {"code": code, "referee": referee})
        assert answer.status_code == 409, answer.text
        details[referee] = answer.json()["detail"]
    assert stored_rows(crm) == before
    assert details == {
        "N1": "customer 'N1' was already referred on 2025-01-01; a customer is referred once",
        "N2": "customer 'N2' was already referred by 'C3' on 2025-01-01; a customer is "
              "referred once"}
