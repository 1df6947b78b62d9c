"""Plugins' row-level rules on single records and writes: a customer a rule hides from a member
(``customers.read``) does not exist for them anywhere in the API.  Every route naming it (in
its path or in its body) answers exactly as for an unknown customer (the same status and
problem, nothing written), the core's and the plugins' ``{customer}`` routes, and the web
pages too; a customer the member sees is answered as usual.

The webtest plugin's rule hides C1 (tagged "secret") from mia, a manager; C9 does not exist;
C3 is plain.  The API in-process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable

import pytest

from web_support import PASSWORD, csrf, row_level_api, sign_in, stored_rows

UTC = dt.timezone.utc
CUSTOMERS = ("C1", "C9", "C3")
"""A customer hidden from mia, an unknown one and one she sees."""


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
    """Each of ``routes`` (method, path, body; ``{ref}`` where the customer goes)
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
        assert (refused.status_code, refused.text) == (
            expected.status_code, expected.text.replace(str(unknown), str(hidden))), (
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
