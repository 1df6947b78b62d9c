"""The staff web app over HTTP (no browser): sign-in, CSRF, permissions, masking, no XSS.

Every test runs against a real ``crmkit serve`` process (``served``) on SQLite and on
PostgreSQL; the browser tests are in test_web_browser.py.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import httpx
import pytest
from sqlalchemy import func, inspect, select

from crmkit import CRM, migrate, tables
from crmkit.auth import MAX_FAILED_SIGN_INS, SIGN_IN_REFUSED
from crmkit.web import session as sessions
from crmkit.web.signin import CSRF_REFUSED
from web_support import PASSWORD, csrf, without_csrf_tokens

SCRIPT_NAME = "<script>alert('x')</script> Ann"


def add_member(server, handle: str, role: str) -> None:
    """A staff member with ``role`` and the password :data:`PASSWORD`."""
    server.token(handle, role=role)
    with server.open() as crm:
        crm.staff.set_password(handle, PASSWORD)


def sign_in(server, handle: str, password: str = PASSWORD) -> tuple[httpx.Client, httpx.Response]:
    client = server.client()
    token = csrf(client.get("/login"))
    answer = client.post("/login", data={"csrf_token": token, "username": handle,
                                         "password": password})
    return client, answer


@pytest.fixture
def shop(served):
    """A served CRM with loyalty enabled, customer C1 whose name is a script (with one
    purchase and a note holding a script), and members ann (agent) and vic (viewer)."""
    server = served(plugins=["loyalty"])
    with server.open() as crm:
        crm.customers.add("C1", SCRIPT_NAME, email="ann@example.com", phone="+442079460000")
        crm.interactions.record("C1", crm.clock.now(), kind="purchase", amount="12.50")
        crm.interactions.record("C1", crm.clock.now(), kind="note",
                                payload={"text": "<img src=x onerror=alert(2)>"})
    add_member(server, "ann", "agent")
    add_member(server, "vic", "viewer")
    return server


def test_sign_in_search_and_the_360_show_a_script_in_a_name_as_text(shop):
    client, answer = sign_in(shop, "ann")
    assert (answer.status_code, answer.headers["location"]) == (303, "/customers")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    for page in (client.get("/customers", params={"q": "ann"}), client.get("/customers/C1")):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Ann" in page.text
        assert "ann@example.com" in page.text
    page = client.get("/customers/C1")
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text  # the note, in the timeline
    assert 'data-panel="loyalty"' in page.text
    assert "<dt>Tier</dt><dd>bronze</dd><dt>Balance</dt><dd>12 points</dd>" in page.text
    purchases = client.get("/customers/C1", params={"kind": "purchase"}).text
    assert 'data-kind="purchase"' in purchases and 'data-kind="note"' not in purchases


def test_a_post_without_the_csrf_token_or_with_another_one_is_refused(shop):
    client, _ = sign_in(shop, "ann")
    page = client.get("/customers/C1")
    for token in (None, "forged", csrf(shop.client().get("/login"))):
        data = {"note": "sneaky"} | ({"csrf_token": token} if token else {})
        answer = client.post("/customers/C1/notes", data=data)
        assert answer.status_code == 403
        assert "nothing was changed" in answer.text
    assert client.post("/customers/C1/notes", data={"csrf_token": csrf(page), "note": "ok"}
                       ).status_code == 303
    with shop.open() as crm:
        notes = [i.payload for i in crm.interactions.list(customer="C1", kind="note")]
    assert sorted(n["text"] for n in notes) == ["<img src=x onerror=alert(2)>", "ok"]
    cross_site = shop.client().post("/login", data={"username": "ann", "password": PASSWORD})
    assert cross_site.status_code == 403 and CSRF_REFUSED.split(":")[0] in cross_site.text


def test_a_viewer_sees_masked_data_no_note_form_and_a_forged_post_is_refused(shop):
    client, _ = sign_in(shop, "vic")
    page = client.get("/customers/C1")
    assert page.status_code == 200
    assert "ann@example.com" not in page.text and "+442079460000" not in page.text
    assert "Ann" not in without_csrf_tokens(page.text) and "***" in page.text
    assert 'action="/customers/C1/notes"' not in page.text
    found = client.get("/customers", params={"q": "C1"})
    assert "C1" in found.text and "ann@example.com" not in found.text
    answer = client.post("/customers/C1/notes", data={"csrf_token": csrf(page), "note": "x"})
    assert answer.status_code == 403 and "interactions.write" in answer.text
    with shop.open() as crm:
        assert len(crm.interactions.list(customer="C1", kind="note")) == 1


def test_repeated_failures_lock_the_handle_with_auth_s_message(shop):
    for _ in range(MAX_FAILED_SIGN_INS):
        _, answer = sign_in(shop, "ann", "wrong password!")
        assert answer.status_code == 401
        assert SIGN_IN_REFUSED.replace("'", "&#39;") in answer.text
    _, answer = sign_in(shop, "ann")
    assert answer.status_code == 401  # the right password, but locked
    assert SIGN_IN_REFUSED.replace("'", "&#39;") in answer.text
    assert "location" not in answer.headers


def test_pages_need_a_valid_session_and_sign_out_ends_it(shop):
    anonymous = shop.client()
    answer = anonymous.get("/customers/C1")
    assert (answer.status_code, answer.headers["location"]) == (
        303, "/login?next=%2Fcustomers%2FC1")
    client, _ = sign_in(shop, "ann")
    elsewhere, _ = sign_in(shop, "ann")  # the same member in another browser
    cookie = client.cookies["crmkit_session"]
    body, mac = cookie.split(".")
    forged = shop.client(cookies={"crmkit_session": body + "." + mac[::-1]})
    assert forged.get("/customers").status_code == 303
    page = client.get("/customers")
    assert client.post("/logout", data={"csrf_token": csrf(page)}).status_code == 303
    assert client.get("/customers").status_code == 303
    kept = shop.client(cookies={"crmkit_session": cookie})  # the cookie, copied before
    answer = kept.get("/customers")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=%2Fcustomers")
    assert kept.post("/logout", data={"csrf_token": csrf(page)}).status_code == 303  # again
    assert kept.post("/customers/C1/notes", data={"csrf_token": csrf(page), "note": "x"}
                     ).status_code == 403
    assert elsewhere.get("/customers").status_code == 200


def test_head_answers_as_get_does_and_a_405_lists_every_method_of_its_path(shop):
    def same(client, path):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code and head.content == b"", path
        assert int(head.headers.get("content-length", 0)) == len(got.content), path
        varying = {"date", "set-cookie"}  # a new session's cookie holds a new CSRF token
        assert ({k: v for k, v in head.headers.items() if k not in varying}
                == {k: v for k, v in got.headers.items() if k not in varying}), path
        return head

    anonymous = shop.client()
    assert same(anonymous, "/customers/C1").headers["location"] == (
        "/login?next=%2Fcustomers%2FC1")  # was a 403 refusing a form without a CSRF token
    same(anonymous, "/login")
    same(shop.client(shop.token("bo", role="agent")), "/api/v1/customers/C1")
    client, _ = sign_in(shop, "ann")
    for path in ("/customers", "/customers/C1?kind=purchase", "/my-work", "/static/app.css"):
        assert same(client, path).status_code == 200
    for method, path, allow in (("DELETE", "/login", "GET, HEAD, POST"),
                                ("PUT", "/customers/C1", "GET, HEAD"),
                                ("PUT", "/customers/C1/notes", "POST"),
                                ("PUT", "/t/u/x", "GET, HEAD, POST")):
        answer = client.request(method, path)
        assert (answer.status_code, answer.headers.get("allow")) == (405, allow), path
        assert answer.json()["detail"] == f"{method} is not allowed on {path} (allowed: {allow})"


def test_a_get_of_a_post_only_page_at_any_depth_is_a_405_and_unknown_paths_stay_404(shop):
    """A deeper POST-only page was a 404: the plugin pages' ``/<plugin>/…`` (or the customer
    page's) route took the GET before the page's own route could refuse it."""
    client, _ = sign_in(shop, "ann")
    with shop.open() as crm:
        crm.customers.add("2024/001", "Slash Sam")
    for path in ("/customers/C1/notes", "/customers/2024%2F001/notes", "/settings/language",
                 "/admin/staff/ann/role", "/admin/plugins/loyalty/enable",
                 "/admin/tokens/1/revoke"):
        for answer in (client.get(path), client.head(path), shop.client().get(path)):
            assert (answer.status_code, answer.headers.get("allow")) == (405, "POST"), path
    answer = client.get("/admin/staff/ann/role")
    assert answer.json()["detail"] == ("GET is not allowed on /admin/staff/ann/role (allowed: "
                                       "POST)")
    for path in ("/customers/C1/nothing", "/customers/C1/notes/x", "/admin/staff/ann/nothing",
                 "/settings/nothing", "/nosuchplugin/page"):
        assert client.get(path).status_code == 404, path
        assert client.put(path).status_code == 404, path


def test_signed_out_sessions_are_kept_until_they_would_have_expired(api, clock):
    api.token("ann", role="agent")
    api.crm.staff.set_password("ann", PASSWORD)

    def sign_out() -> str:
        client, answer = sign_in(api, "ann")
        cookie = answer.cookies["crmkit_session"]
        assert client.post("/logout", data={"csrf_token": csrf(client.get("/customers"))}
                           ).status_code == 303
        return sessions.unsign(sessions.session_key(api.crm), cookie)["id"]

    def kept() -> list[str]:
        with api.crm.read() as conn:
            return conn.execute(select(tables.revoked_sessions.c.session_id)).scalars().all()

    first = sign_out()
    clock.advance(hours=11)
    second = sign_out()
    assert sorted(kept()) == sorted([first, second])
    clock.advance(hours=1)  # the first session would have expired now
    third = sign_out()
    assert sorted(kept()) == sorted([second, third])


def test_a_session_without_an_id_is_not_signed_in(api, clock):
    api.token("ann", role="agent")
    api.crm.staff.set_password("ann", PASSWORD)
    session = sessions.new_session("ann", clock.now(),
                                   sessions.password_mark(api.crm, "ann"))
    assert sessions.signed_in_handle(session, clock.now()) == "ann"
    del session["id"]  # a cookie that could not be signed out
    assert sessions.signed_in_handle(session, clock.now()) is None
    cookie = sessions.sign(sessions.session_key(api.crm), session)
    answer = api.client().get("/customers", headers={"Cookie": f"crmkit_session={cookie}"})
    assert answer.status_code == 303


def test_core_0009_adds_the_revoked_sessions_to_an_existing_database(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True) as crm, crm.connect(write=True) as conn:
        migrate.downgrade(conn, "core@core_0008")
        conn.commit()
        assert "revoked_sessions" not in inspect(conn).get_table_names()
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm:
        session = sessions.new_session("ann", clock.now())
        sessions.revoke(crm, session)
        sessions.revoke(crm, session)  # signed out twice: once is kept
        assert sessions.revoked(crm, session)
        assert not sessions.revoked(crm, sessions.new_session("ann", clock.now()))


def test_a_cookie_or_notice_mark_that_is_not_ascii_is_no_session_and_no_notice(api):
    api.token("ann", role="admin")
    api.crm.staff.set_password("ann", PASSWORD)
    foreign = {"Cookie": "crmkit_session=a.é".encode()}  # é as UTF-8 bytes
    client = api.client()
    assert client.get("/login", headers=foreign).status_code == 200
    assert client.get("/customers", headers=foreign).status_code == 303  # to sign in
    answer = client.post("/login", headers=foreign,
                         data={"csrf_token": "x", "username": "ann", "password": PASSWORD})
    assert answer.status_code == 403 and "security token" in answer.text
    client, _ = sign_in(api, "ann")
    for path in ("/my-work", "/admin/staff"):
        page = client.get(path, params={"done": "staff-added", "item": "bo", "mark": "é"})
        assert page.status_code == 200 and 'role="status"' not in page.text, path


def test_a_form_over_the_size_limit_is_refused_as_such_and_nothing_is_written(api):
    api.token("ann", role="agent")
    api.crm.staff.set_password("ann", PASSWORD)
    api.crm.customers.add("C1", "Ann")
    client, _ = sign_in(api, "ann")
    token = csrf(client.get("/customers/C1"))
    long_note = {"csrf_token": token, "note": "x" * 70_000}
    answer = client.post("/customers/C1/notes", data=long_note)
    assert answer.status_code == 413
    assert "this form is larger than 65,536 bytes" in answer.text
    assert "security token" not in answer.text
    assert api.crm.interactions.list(customer="C1", kind="note") == []
    chinese = client.post("/customers/C1/notes", data=long_note,
                          headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 413 and "此表单超过 65,536 字节" in chinese.text
    assert client.post("/logout", data=long_note).status_code == 413
    assert client.get("/customers/C1").status_code == 200  # still signed in
    assert client.post("/customers/C1/notes", data={"csrf_token": token, "note": "x" * 60_000}
                       ).status_code == 303


def test_every_response_carries_the_security_headers(api):
    from crmkit.web.app import DOCS_POLICY, SECURITY_HEADERS

    api.crm.plugins.enable("operational")
    secret = api.token("ann", role="admin")
    api.crm.staff.set_password("ann", PASSWORD)
    anonymous = {path: api.client().get(path) for path in (
        "/login", "/customers", "/static/app.css", "/nope/x", "/health", "/openapi.json",
        "/docs", "/docs/swagger-ui.css")}
    anonymous["/api/v1/customers"] = api.client(secret).get("/api/v1/customers")
    client, _ = sign_in(api, "ann")
    signed_in = {path: client.get(path) for path in (
        "/customers", "/admin/staff", "/operational/board", "/operational/static/board.js",
        "/operational/nope")}
    signed_in["POST /customers/C1/notes"] = client.post("/customers/C1/notes", data={})
    for path, answer in {**anonymous, **signed_in}.items():
        expected = dict(SECURITY_HEADERS, **(
            {"Content-Security-Policy": DOCS_POLICY} if path == "/docs" else {}))
        assert {name: answer.headers.get(name) for name in expected} == expected, path
    assert "default-src 'self'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert [answer.status_code for answer in signed_in.values()] == [200, 200, 200, 200, 404,
                                                                     403]


def test_sign_in_goes_back_only_to_a_page_of_this_site(shop):
    client = shop.client()
    token = csrf(client.get("/login"))
    for target, expected in (("/customers/C1", "/customers/C1"), ("//evil.example/x", "/customers"),
                             ("https://evil.example/", "/customers")):
        answer = client.post("/login", data={"csrf_token": token, "username": "ann",
                                             "password": PASSWORD, "next": target})
        assert answer.headers["location"] == expected
        token = csrf(client.get("/login"))


def test_the_cookie_is_secure_over_https_and_signed_with_one_key_per_database(api):
    client = api.client()
    secure = client.get("https://testserver/login").headers["set-cookie"]
    plain = client.get("http://testserver/login").headers["set-cookie"]  # not sent back on http
    assert "Secure" not in plain and "Secure" in secure and "HttpOnly" in secure
    with api.crm.read() as conn:
        keys = conn.execute(select(func.count()).select_from(tables.settings)
                            .where(tables.settings.c.name == "web_session_key")).scalar()
    assert keys == 1


def test_a_failing_card_is_shown_as_such_and_the_rest_of_the_page_renders(served):
    server = served(plugins=["loyalty", "cardtest"], local_plugins=["crmkit_cardtest"])
    with server.open() as crm:
        crm.customers.add_many([{"external_id": e, "name": f"Name {e}"}
                                for e in ("GOOD", "BAD", "ODD", "NONE")])
    add_member(server, "ann", "agent")
    add_member(server, "vic", "viewer")
    client, _ = sign_in(server, "ann")
    good = client.get("/customers/GOOD").text
    assert ('<section class="card" data-panel="cardtest" aria-labelledby="card-cardtest">\n'
            '  <h2 id="card-cardtest">Test card</h2>') in good
    assert "<dt>Seen as</dt><dd>Name GOOD</dd><dt>Empty</dt><dd></dd>" in good
    assert "<p>&lt;b&gt;a note&lt;/b&gt;</p>" in good
    for broken in ("BAD", "ODD"):
        page = client.get(f"/customers/{broken}")
        assert page.status_code == 200
        assert "this card could not be shown (the server logged why)" in page.text
        assert 'data-panel="loyalty"' in page.text
    none = client.get("/customers/NONE").text
    assert 'data-panel="cardtest"' not in none and 'data-panel="loyalty"' in none
    log = server.log.read_text()
    assert "plugin 'cardtest': its customer card failed" in log and "a bug in the card" in log
    assert "crmkit_customer_card returned dict, not a crmkit.plugin.Card" in log
    viewer, _ = sign_in(server, "vic")
    assert "<dt>Seen as</dt><dd>***</dd>" in viewer.get("/customers/GOOD").text


def test_changing_the_password_ends_the_sessions_signed_in_before(shop):
    client, _ = sign_in(shop, "ann")
    assert client.get("/customers").status_code == 200
    with shop.open() as crm:
        crm.staff.set_password("ann", "another long password")
    answer = client.get("/customers")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=%2Fcustomers")
    again, _ = sign_in(shop, "ann", "another long password")
    assert again.get("/customers").status_code == 200


def test_the_analytical_card_shows_rfm_and_the_lifecycle_stage(api, clock):
    crm = api.crm
    crm.plugins.enable("analytical")
    crm.customers.add("C1", "Ann")
    for days, amount in ((40, "10.25"), (10, "15")):
        crm.interactions.record("C1", clock.now() - dt.timedelta(days=days), amount=amount)
    api.token("ann", role="agent")
    crm.staff.set_password("ann", PASSWORD)

    def signed_in():
        client = api.client()
        token = csrf(client.get("/login"))
        client.post("/login", data={"csrf_token": token, "username": "ann", "password": PASSWORD})
        return client

    card = card_of(signed_in(), "C1", "analytical")
    assert "<dt>Last purchase</dt><dd>10 days ago</dd><dt>Purchases</dt><dd>2</dd>" in card
    assert "<dt>Spend</dt><dd>25.25</dd>" in card  # to the cent
    segment = crm.plugin("analytical").rfm()[0].segment
    assert f"<dt>RFM segment</dt><dd>{segment}</dd>" in card.replace("&#39;", "'")
    stage = crm.plugin("analytical").lifecycle_stages()[crm.customers.get("C1").id]
    assert f"<dt>Lifecycle stage</dt><dd>{stage}</dd>" in card
    assert "RFM scored" not in card  # scored on the view: no sweep stored a score yet
    crm.sweep()
    clock.advance(days=3)
    crm.interactions.record("C1", clock.now(), amount="5")
    client = signed_in()  # the session of three days ago expired
    card = card_of(client, "C1", "analytical")  # the stored score, as of the sweep
    assert "<dt>Last purchase</dt><dd>10 days ago</dd><dt>Purchases</dt><dd>2</dd>" in card
    assert "<dt>RFM scored</dt><dd>as of 2025-01-01</dd>" in card
    crm.sweep()
    card = card_of(client, "C1", "analytical")
    assert "<dt>Last purchase</dt><dd>0 days ago</dd><dt>Purchases</dt><dd>3</dd>" in card
    assert "<dt>RFM scored</dt><dd>as of 2025-01-04</dd>" in card


def card_of(client, external_id: str, plugin: str) -> str:
    """``plugin``'s card on the customer's 360 page as ``client``'s member sees it."""
    page = client.get(f"/customers/{external_id}").text
    card = page[page.index(f'data-panel="{plugin}"'):]
    return card[:card.index("</section>")]


def test_the_analytical_card_shows_clv_and_p_alive_from_the_latest_fit_and_survey_scores(
        api, clock):
    from crmkit_analytical import clv
    from crmkit_analytical.results import CLVFit

    crm = api.crm
    crm.plugins.enable("analytical")
    crm.customers.add("C1", "Ann")
    crm.customers.add("C2", "Bob")
    for days, amount in ((40, "10"), (10, "20")):
        crm.interactions.record("C1", clock.now() - dt.timedelta(days=days), amount=amount)
    for days, payload in ((30, {"nps": 6}), (20, {"nps": 9, "csat": 4}), (5, {"ces": 2}),
                          (3, {"comment": "no score"}), (1, {"nps": 10})):
        crm.interactions.record("C1", clock.now() - dt.timedelta(days=days), kind="survey",
                                payload=payload)
    api.token("ann", role="agent")
    crm.staff.set_password("ann", PASSWORD)
    client = api.client()
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "ann", "password": PASSWORD})
    card = card_of(client, "C1", "analytical")
    assert "<p>no CLV fit yet: run crmkit analytical clv fit</p>" in card
    assert "P(alive)" not in card
    assert ("<dt>Survey 2024-12-31</dt><dd>NPS 10</dd><dt>Survey 2024-12-27</dt><dd>CES 2</dd>"
            "<dt>Survey 2024-12-12</dt><dd>NPS 9, CSAT 4</dd>") in card  # newest three
    with crm.transaction() as tx:  # a kept fit with round parameters, in weeks
        clv.keep_fit(tx, CLVFit(clock.now(), "week", {"r": 1.0, "alpha": 10.0, "a": 1.0,
                                                       "b": 3.0},
                                {"p": 6.0, "q": 4.0, "v": 15.0}))
    card = card_of(client, "C1", "analytical")
    # x = 1 repeat purchase, t_x = 30/7, T = 40/7 weeks:
    # P(alive) = 1 / (1 + a/(b + x − 1) · ((α + T)/(α + t_x))^(r + x)) = 1 / (1 + 1.21/3)
    assert "<dt>P(alive)</dt><dd>71 %</dd>" in card
    assert "<dt>CLV fit</dt><dd>as of 2025-01-01</dd>" in card
    assert "<dt>Expected purchases (next 52 weeks)</dt>" in card
    client.headers["Accept-Language"] = "zh-CN"  # the unit translated with its label
    assert "<dt>预计购买次数（未来 52 周）</dt>" in card_of(client, "C1", "analytical")
    del client.headers["Accept-Language"]
    assert "no CLV fit yet" not in card
    prediction = crm.plugin("analytical").customer_clv("C1")[1]
    assert prediction.p_alive == pytest.approx(1 / (1 + 1.21 / 3))
    assert f"<dt>CLV (12 months)</dt><dd>{prediction.clv}</dd>" in card
    assert prediction.clv > 0
    assert "<dt>CLV</dt><dd>no purchase yet</dd>" in card_of(client, "C2", "analytical")
    assert "<dt>NPS</dt><dd>no survey answer yet</dd>" in card_of(client, "C2", "analytical")


def test_the_operational_card_shows_tasks_opportunities_and_cases_with_their_sla(api, clock):
    crm = api.crm
    crm.plugins.enable("operational")
    crm.customers.add("C1", "Ann")
    operational = crm.plugin("operational")
    operational.create_task("C1", "call back", None, clock.now() - dt.timedelta(hours=1))
    operational.create_task("C1", "send offer", None, clock.now() + dt.timedelta(days=1))
    operational.create_opportunity("C1", "Renewal", "1200", "EUR")
    case = operational.open_case("C1", "<b>broken</b> printer", "high")
    due = operational.case(case)["first_response_due"]
    api.token("ann", role="agent")
    crm.staff.set_password("ann", PASSWORD)
    client, _ = sign_in(api, "ann")
    card = card_of(client, "C1", "operational")
    assert "<dt>Open opportunities</dt><dd>1 (€1,200.00)</dd>" in card
    assert "<dt>Open tasks</dt><dd>2 (1 overdue)</dd>" in card
    assert due == dt.datetime(2025, 1, 1, 16, 0, tzinfo=dt.timezone.utc)
    assert (f"<dt>Case #{case}</dt><dd>&lt;b&gt;broken&lt;/b&gt; printer — open, high, "
            "first response due Jan 1, 2025, 4:00\u202fPM</dd>") in card
    clock.set(due + dt.timedelta(minutes=1))
    card = client.get("/customers/C1").text
    assert "printer — open, high, SLA breached</dd>" in card


def test_the_social_card_hides_handles_from_a_viewer(api):
    crm = api.crm
    crm.plugins.enable("social")
    crm.customers.add("C1", "Ann")
    crm.plugin("social").link_handle("C1", "twitter", "@Ann_Smith")
    for handle, role in (("ann", "agent"), ("vic", "viewer")):
        api.token(handle, role=role)
        crm.staff.set_password(handle, PASSWORD)
    shown = {handle: card_of(sign_in(api, handle)[0], "C1", "social")
             for handle in ("ann", "vic")}
    linked = crm.plugin("social").identities("C1")[0]["handle"]
    assert f"<dt>twitter</dt><dd>{linked}</dd>" in shown["ann"]
    assert linked not in shown["vic"]
    assert "<dt>Handles</dt><dd>1 linked (hidden: personal data)</dd>" in shown["vic"]
    assert "<dt>Mentions</dt><dd>0</dd>" in shown["vic"]


def test_the_loyalty_card_shows_the_points_expiring_within_30_days(api, clock):
    crm = api.crm
    crm.plugins.enable("loyalty")
    crm.customers.add("C1", "Ann")
    crm.interactions.record("C1", clock.now() - dt.timedelta(days=340), amount="20")
    loyalty = crm.plugin("loyalty")
    early = loyalty.balance("C1")
    crm.interactions.record("C1", clock.now() - dt.timedelta(days=1), amount="50")
    expires = loyalty.statement("C1")[0].expires_at
    assert early > 0 and clock.now() < expires < clock.now() + dt.timedelta(days=30)
    api.token("ann", role="agent")
    crm.staff.set_password("ann", PASSWORD)
    client = api.client()
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "ann", "password": PASSWORD})
    page = client.get("/customers/C1").text
    assert (f"<dt>Balance</dt><dd>{loyalty.balance('C1')} points</dd>" in page)
    assert expires.date() == dt.date(2025, 1, 27)
    assert (f"<dt>Expiring in 30 days</dt><dd>{early} points (first on Jan 27, 2025)"
            "</dd>") in page


def test_the_valuechain_and_idic_cards(api):
    crm = api.crm
    for name in ("analytical", "idic", "valuechain"):
        crm.plugins.enable(name)
    crm.customers.add_many([{"external_id": "C1", "name": "Ann", "email": "ann@example.com"},
                            {"external_id": "C2", "name": "Bo"}])
    crm.plugin("valuechain").mark_ssc("C1", ["benchmark"], note="reference <customer>")
    api.token("ann", role="agent")
    crm.staff.set_password("ann", PASSWORD)
    client = api.client()
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "ann", "password": PASSWORD})
    marked, plain = client.get("/customers/C1").text, client.get("/customers/C2").text
    ssc = next(s for s in crm.plugin("valuechain").sscs() if s.customer == "C1")
    assert ssc.marked_at.date() == dt.date(2025, 1, 1)
    assert ("<dt>Strategically significant</dt><dd>✓ yes, since Jan 1, 2025</dd>"
            f"<dt>Group</dt><dd>{ssc.group}</dd><dt>Reasons</dt><dd>benchmark</dd>"
            "<dt>Note</dt><dd>reference &lt;customer&gt;</dd>") in marked
    assert "<dt>Strategically significant</dt><dd>✗ no</dd>" in plain
    progress = crm.plugin("idic").progress("C1")
    assert f"<dt>Progress</dt><dd>{progress.score} of 4 steps</dd>" in marked
    assert f"<dt>Identified</dt><dd>{'✓ yes' if progress.identified else '✗ no'}</dd>" in marked
    assert "<dt>Value group</dt><dd>not differentiated yet</dd>" in marked


def test_the_collaborative_card_shows_channel_and_consent_to_roles_that_see_personal_data(api):
    crm = api.crm
    crm.plugins.enable("collaborative")
    crm.customers.add("C1", "Ann", preferred_channel="email")
    crm.customers.set_consent("C1", "email", True, "web form")
    crm.customers.set_consent("C1", "sms", False, "call")
    for handle, role in (("ann", "agent"), ("vic", "viewer")):
        api.token(handle, role=role)
        crm.staff.set_password(handle, PASSWORD)
    cards = {handle: card_of(sign_in(api, handle)[0], "C1", "collaborative")
             for handle in ("ann", "vic")}
    assert ("<dt>Preferred channel</dt><dd>email</dd><dt>Consent: email</dt><dd>granted</dd>"
            "<dt>Consent: sms</dt><dd>withdrawn</dd><dt>Open work items</dt><dd>0</dd>"
            ) in cards["ann"]
    assert ("<dt>Preferred channel</dt><dd>email</dd><dt>Open work items</dt><dd>0</dd>"
            ) in cards["vic"]


def test_a_customer_whose_external_id_holds_a_slash_has_its_pages(shop):
    """Ids such as ``2024/001`` are common in other systems' exports: the link encodes the
    ``/`` (``2024%2F001``), and the page, its note form, its redirect and the way back
    after signing in keep it encoded; the unencoded path names no customer."""
    with shop.open() as crm:
        crm.customers.add("ORG/1", "Acme", type="organisation")
        crm.customers.add("2024/001", "Slash Sam", organisation="ORG/1")
    signed_out = shop.client()
    to_login = signed_out.get("/customers/2024%2F001")
    assert to_login.status_code == 303
    assert to_login.headers["location"] == "/login?next=%2Fcustomers%2F2024%252F001"
    client, answer = sign_in(shop, "ann")
    listing = client.get("/customers", params={"q": "2024"})
    assert 'href="/customers/2024%2F001"' in listing.text
    page = client.get("/customers/2024%2F001")
    assert page.status_code == 200 and "Slash Sam" in page.text
    assert 'href="/customers/ORG%2F1"' in page.text  # the organisation's link
    assert 'action="/customers/2024%2F001/notes"' in page.text
    noted = client.post("/customers/2024%2F001/notes", data={"csrf_token": csrf(page),
                                                              "note": "hello"})
    assert (noted.status_code, noted.headers["location"]) == (303, "/customers/2024%2F001")
    with shop.open() as crm:
        assert [i.payload for i in crm.interactions.list(customer="2024/001", kind="note")
                ] == [{"text": "hello"}]
    for wrong in ("/customers/2024/001", "/customers/2024%2F001/nothing"):
        assert client.get(wrong).status_code == 404, wrong
    empty = client.get("/customers/")  # names no customer: the list, as /admin/ is /admin
    assert (empty.status_code, empty.headers["location"]) == (307, f"{shop.url}/customers")


def test_the_customers_page_pages_through_every_customer_fifty_at_a_time(api):
    crm = api.crm
    for number in range(120):
        crm.customers.add(f"P{number:03d}", f"Person {number}")
    api.token("ann", role="agent")
    crm.staff.set_password("ann", PASSWORD)
    client = api.client()
    client.post("/login", data={"csrf_token": csrf(client.get("/login")), "username": "ann",
                                "password": PASSWORD})
    shown, page, pages = [], client.get("/customers"), 0
    while True:
        pages += 1
        assert page.status_code == 200
        shown += re.findall(r'<tr data-customer="(P\d+)">', page.text)
        assert ('>First page</a>' in page.text) == (pages > 1)
        following = re.search(r'href="(/customers\?[^"]+)" rel="next"', page.text)
        if following is None:
            break
        page = client.get(html.unescape(following.group(1)))
    assert (pages, shown) == (3, [f"P{n:03d}" for n in range(120)])
    assert "20 customers on this page" in page.text
    found = client.get("/customers", params={"q": "Person 1"})  # 1, 10–19, 100–119: one page
    assert len(re.findall(r"<tr data-customer=", found.text)) == 31
    assert 'rel="next"' not in found.text and "First page" not in found.text
    bad = client.get("/customers", params={"cursor": "nonsense"})
    assert bad.status_code == 422 and "cursor" in bad.text
