"""Plugins' row-level rules in the API's lists: a customer a rule hides is left out of the
interaction and event lists, of an organisation's people in its export and of every built-in
plugin's lists (and the pages showing them), and naming it is a 404 like an unknown
customer; a customer whose personal data a rule hides has it masked there, in the answers of
writes and in the names web pages show, whatever the member's role holds.

The webtest plugin's rules: customers tagged "secret" exist only for admins (only
``customers.read`` is refused), the personal data of customers tagged "private" is shown
only to admins.  The API in-process (HTTP through
httpx's ASGI transport), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Callable

import pytest

from web_support import (PASSWORD, TAGS, audit_rows, history, problem, row_level_api,
                         sign_in)

UTC = dt.timezone.utc


@pytest.fixture
def web(crm_url, clock):
    """The API with the webtest plugin's rules (``web_support.row_level_api``): C1 hidden
    from mia, C2's personal data masked for her."""
    with row_level_api(crm_url, clock) as helper:
        yield helper


def test_the_interaction_list_leaves_out_hidden_customers_and_masks_per_customer(
        web, statements):
    manager = web.client(web.manager)
    with statements(web.crm.engine, "FROM customers") as one:
        first = manager.get("/api/v1/interactions", params={"limit": 1})
    with statements(web.crm.engine, "FROM customers") as every:
        answer = manager.get("/api/v1/interactions")
    assert answer.status_code == 200, answer.text
    assert [(i["customer"], i["payload"]) for i in answer.json()["items"]] == [
        ("C3", {"text": "C3's note"}), ("C2", "***")]
    assert first.json()["items"] == answer.json()["items"][:1]
    assert len(every) == len(one)  # the rules' customers are read per page, not per row
    for ref in ("C1", "C9"):
        refused = problem(manager.get("/api/v1/interactions", params={"customer": ref}), 404)
        assert refused["detail"] == f"no customer {ref!r}"
    assert manager.get("/api/v1/interactions", params={"customer": "C2"}).json()["items"][0][
        "payload"] == "***"
    full = web.client(web.admin).get("/api/v1/interactions").json()["items"]
    assert [(i["customer"], i["payload"]) for i in full] == [
        (ref, {"text": f"{ref}'s note"}) for ref in ("C3", "C2", "C1")]


def test_a_recorded_interaction_is_answered_masked_per_customer(web):
    manager = web.client(web.manager)
    written = {ref: manager.post("/api/v1/interactions", json={
        "customer": ref, "kind": "note", "payload": {"text": f"{ref}'s second note"}})
        for ref in ("C2", "C3")}
    assert written["C2"].status_code == 201, written["C2"].text
    assert written["C2"].json()["payload"] == "***"
    assert written["C3"].json()["payload"] == {"text": "C3's second note"}
    assert web.crm.interactions.get(written["C2"].json()["id"]).payload == {
        "text": "C2's second note"}


def test_the_event_list_leaves_out_hidden_customers_and_masks_per_customer(web):
    crm = web.crm
    with crm.transaction() as tx:
        for ref in TAGS:
            tx.emit("message.bounced", crm.customers.get(ref).id,
                    {"channel": "email", "error": f"550 {ref}'s address"})
        tx.emit("message.bounced", None, {"channel": "email", "error": "550 nobody's address"})
    manager = web.client(web.manager)
    answer = manager.get("/api/v1/events")
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert "C1" not in {e["customer"] for e in items}
    assert {e["customer"] for e in items if e["type"] == "customer.created"} == {"O1", "C2", "C3"}
    assert [(e["customer"], e["payload"]["error"]) for e in items
            if e["type"] == "message.bounced"] == [
        ("C2", "***"), ("C3", "550 C3's address"), (None, "550 nobody's address")]
    full = web.client(web.admin).get("/api/v1/events", params={"type": "message.bounced"})
    assert [(e["customer"], e["payload"]["error"]) for e in full.json()["items"]] == [
        ("C1", "550 C1's address"), ("C2", "550 C2's address"), ("C3", "550 C3's address"),
        (None, "550 nobody's address")]


def test_a_role_without_customers_read_does_not_see_a_hidden_customer_s_events(web):
    crm = web.crm  # an events poller: its role grants events.read, not customers.read
    crm.plugins.configure_core({**crm.core_config, "roles": {**crm.core_config["roles"],
                                                             "poller": ["events.read"]}})
    poller = web.client(web.token("pat", role="poller"))
    items = poller.get("/api/v1/events", params={"type": "customer.created"}).json()["items"]
    assert [e["customer"] for e in items] == ["O1", "C2", "C3"]
    everyone = web.client(web.admin).get("/api/v1/events", params={"type": "customer.created"})
    assert [e["customer"] for e in everyone.json()["items"]] == ["O1", "C1", "C2", "C3"]


@pytest.fixture
def social(web):
    """``web`` with the social plugin enabled: C1, C2 and C3 each with an instagram handle and
    a mention, and a mention of a stranger."""
    web.crm.plugins.enable("social")
    social = web.crm.plugin("social")
    for ref in TAGS:
        social.link_handle(ref, "instagram", f"{ref.lower()}_handle")
    social.import_mentions([
        {"platform": "instagram", "post_id": f"p-{handle}", "handle": handle,
         "text": f"{handle} posted", "posted_at": "2024-12-20T10:00:00Z"}
        for handle in ("c1_handle", "c2_handle", "c3_handle", "stranger")])
    return web


def test_the_social_lists_and_card_mask_handles_and_posts_per_customer(social):
    web = social
    manager = web.client(web.manager)
    identities = manager.get("/api/v1/social/identities")
    assert identities.status_code == 200, identities.text
    assert [(i["customer"], i["handle"]) for i in identities.json()["items"]] == [
        ("C2", "***"), ("C3", "c3_handle")]
    mentions = manager.get("/api/v1/social/mentions").json()
    assert sorted((m["customer"] or "", m["handle"], m["text"], m["post_id"])
                  for m in mentions) == [
        ("", "stranger", "stranger posted", "p-stranger"),
        ("C2", "***", "***", "***"), ("C3", "c3_handle", "c3_handle posted", "p-c3_handle")]
    admin = web.client(web.admin)
    assert [i["handle"] for i in admin.get("/api/v1/social/identities").json()["items"]] == [
        "c1_handle", "c2_handle", "c3_handle"]
    web.crm.staff.set_password("mia", PASSWORD)
    pages = sign_in(web, "mia")
    card = {ref: pages.get(f"/customers/{ref}") for ref in ("C2", "C3")}
    assert card["C2"].status_code == 200 and "c2_handle" not in card["C2"].text
    assert "1 linked (hidden: personal data)" in card["C2"].text
    assert "c3_handle" in card["C3"].text


def test_the_social_lists_leave_out_hidden_customers_and_refuse_naming_them(social):
    web = social
    manager = web.client(web.manager)
    assert "C1" not in {i["customer"]
                        for i in manager.get("/api/v1/social/identities").json()["items"]}
    assert "C1" not in {m["customer"] for m in manager.get("/api/v1/social/mentions").json()}
    for path in ("identities", "mentions"):
        for ref in ("C1", "C9"):
            refused = problem(manager.get(f"/api/v1/social/{path}", params={"customer": ref}),
                              404)
            assert refused["detail"] == f"no customer {ref!r}"
        answer = manager.get(f"/api/v1/social/{path}", params={"customer": "C2"}).json()
        rows = answer["items"] if path == "identities" else answer
        assert [row["customer"] for row in rows] == ["C2"]
    admin = web.client(web.admin)
    assert [i["handle"] for i in admin.get("/api/v1/social/identities",
                                           params={"customer": "C1"}).json()["items"]] == [
        "c1_handle"]


@pytest.fixture
def operational(web):
    """``web`` with the operational plugin enabled: C1, C2 and C3 each with an opportunity, a
    task of mia's, a case and a lead."""
    web.crm.plugins.enable("operational")
    ops = web.crm.plugin("operational")
    for ref in TAGS:
        ops.create_opportunity(ref, f"{ref}'s refit", "10")
        ops.create_task(ref, f"Call {ref}", "mia", dt.datetime(2024, 12, 30, tzinfo=UTC))
        ops.open_case(ref, f"{ref}'s complaint")
        ops.set_lead_stage(ref, "mql")
    return web


def test_operational_lists_and_board_mask_text_per_customer_at_a_cost_per_list(
        operational, statements):
    web = operational
    crm, ops = web.crm, web.crm.plugin("operational")
    api, manager = "/api/v1/operational", web.client(web.manager)
    with statements(crm.engine, "FROM customers") as one:
        first = manager.get(f"{api}/opportunities", params={"limit": 1})
    with statements(crm.engine, "FROM customers") as every:
        opportunities = manager.get(f"{api}/opportunities")
    assert opportunities.status_code == 200, opportunities.text
    assert len(first.json()) == 1 and len(every) == len(one)  # per list, not per row
    shown = {"C2": "***"}  # C2's personal data refused (C1, hidden, is left out)
    assert {o["customer"]: o["name"] for o in opportunities.json()} == {
        "C3": "C3's refit", **shown}
    assert {t["customer"]: t["subject"] for t in manager.get(f"{api}/tasks").json()} == {
        "C3": "Call C3", **shown}
    assert {c["customer"]: c["subject"] for c in manager.get(f"{api}/cases").json()} == {
        "C3": "C3's complaint", **shown}
    assert {r["customer"]: r["name"] for r in manager.get(f"{api}/leads").json()} == {
        "C3": "C3's name", **shown}
    one_case = manager.get(f"{api}/cases/{ops.cases(customer='C2')[0]['id']}").json()
    assert one_case["subject"] == "***"
    admin = web.client(web.admin)
    assert {t["customer"]: t["subject"] for t in admin.get(f"{api}/tasks").json()} == {
        ref: f"Call {ref}" for ref in TAGS}
    crm.staff.set_password("mia", PASSWORD)
    pages = sign_in(web, "mia")
    for page in (pages.get("/operational/board"), pages.get("/my-work")):
        assert page.status_code == 200, page.text
        text = html.unescape(page.text)
        assert "C3's name" in text
        for hidden in ("C1's name", "C2's name", "C2's refit", "Call C2"):
            assert hidden not in text


def test_operational_lists_and_pages_leave_out_hidden_customers_and_refuse_naming_them(
        operational):
    web = operational
    api, manager = "/api/v1/operational", web.client(web.manager)
    for path in ("leads", "opportunities", "tasks", "cases"):
        listed = manager.get(f"{api}/{path}")
        assert listed.status_code == 200, listed.text
        customers = {row["customer"] for row in listed.json()}
        assert "C1" not in customers and {"C2", "C3"} <= customers, path
    for path in ("opportunities", "tasks", "cases"):
        for ref in ("C1", "C9"):
            refused = problem(manager.get(f"{api}/{path}", params={"customer": ref}), 404)
            assert refused["detail"] == f"no customer {ref!r}"
        assert [row["customer"] for row in manager.get(
            f"{api}/{path}", params={"customer": "C2"}).json()] == ["C2"]
    admin = web.client(web.admin)
    assert [t["subject"] for t in admin.get(f"{api}/tasks", params={"customer": "C1"}).json()
            ] == ["Call C1"]
    web.crm.staff.set_password("mia", PASSWORD)
    pages = sign_in(web, "mia")
    for page in (pages.get("/operational/board"), pages.get("/my-work")):
        assert page.status_code == 200, page.text
        assert '/customers/C3"' in page.text and '/customers/C1"' not in page.text


def test_the_collaborative_queues_and_my_work_leave_out_hidden_customers(web, clock):
    crm = web.crm
    crm.plugins.enable("collaborative")
    collaborative = crm.plugin("collaborative")
    for ref in TAGS:
        crm.interactions.record(ref, clock.now(), kind="complaint", channel="email")
    items = {item.external_id: item.id for item in collaborative.queue("support")}
    for item_id in items.values():
        collaborative.hand_off(item_id, "api", "for mia's team")
    api, manager = "/api/v1/collaborative", web.client(web.manager)
    queue = manager.get(f"{api}/queues/api")
    assert queue.status_code == 200, queue.text
    assert [item["customer"] for item in queue.json()["items"]] == ["C2", "C3"]
    assert [item["customer"] for item in web.client(web.admin).get(
        f"{api}/queues/api").json()["items"]] == ["C1", "C2", "C3"]
    crm.staff.set_password("mia", PASSWORD)
    page = sign_in(web, "mia").get("/my-work")
    assert page.status_code == 200, page.text
    assert f'data-handoff="{items["C3"]}"' in page.text
    assert f'data-handoff="{items["C1"]}"' not in page.text


def test_idic_routes_mask_names_and_matched_values_per_customer(web):
    crm = web.crm
    crm.plugins.enable("analytical")
    crm.plugins.enable("idic")
    crm.customers.add_many([
        {"external_id": ref, "name": "Dee Twin", "email": "dee@example.com", "tags": tags}
        for ref, tags in (("D1", ["private"]), ("D2", []))])
    crm.plugin("idic").differentiate()
    api, manager = "/api/v1/idic", web.client(web.manager)
    [pair] = [p for p in manager.get(f"{api}/duplicates").json()["pairs"]
              if p["first"] == "D1"]
    assert (pair["second"], pair["first_name"], pair["second_name"]) == ("D2", "***", "Dee Twin")
    assert "same email" in pair["reasons"]  # the kind, not the private customer's email
    assert manager.get(f"{api}/customers/C2/progress").json()["name"] == "***"
    assert manager.get(f"{api}/customers/C3/progress").json()["name"] == "C3's name"
    names = {row["customer"]: row["name"]
             for row in manager.get(f"{api}/groups", params={"limit": 1000}).json()["items"]}
    assert (names["C2"], names["D1"], names["C3"], names["D2"]) == (
        "***", "***", "C3's name", "Dee Twin")
    [full] = [p for p in web.client(web.admin).get(f"{api}/duplicates").json()["pairs"]
              if p["first"] == "D1"]
    assert full["first_name"] == "Dee Twin" and "same email dee@example.com" in full["reasons"]


def test_idic_lists_leave_out_hidden_customers_and_refuse_naming_them(web):
    crm = web.crm
    crm.plugins.enable("analytical")
    crm.plugins.enable("idic")
    crm.customers.add_many([
        {"external_id": ref, "name": "Dee Twin", "email": "dee@example.com", "tags": tags}
        for ref, tags in (("S1", ["secret"]), ("D2", []))])
    crm.plugin("idic").differentiate()
    api, manager = "/api/v1/idic", web.client(web.manager)
    for path in ("groups", "due"):
        listed = manager.get(f"{api}/{path}", params={"limit": 1000})
        assert listed.status_code == 200, listed.text
        customers = {row["customer"] for row in listed.json()["items"]}
        assert not customers & {"C1", "S1"} and {"C2", "C3", "D2"} <= customers, path
    pairs = {(p["first"], p["second"]) for p in manager.get(f"{api}/duplicates").json()["pairs"]}
    assert not {ref for pair in pairs for ref in pair} & {"C1", "S1"}
    for path in ("group", "progress"):
        for ref in ("C1", "C9"):
            refused = problem(manager.get(f"{api}/customers/{ref}/{path}"), 404)
            assert refused["detail"] == f"no customer {ref!r}"
        assert manager.get(f"{api}/customers/C3/{path}").json()["customer"] == "C3"
    admin = web.client(web.admin)
    assert {"D2", "S1"} in [{p["first"], p["second"]}
                            for p in admin.get(f"{api}/duplicates").json()["pairs"]]
    assert admin.get(f"{api}/customers/C1/progress").json()["name"] == "C1's name"


def test_the_collaborative_card_shows_consents_per_customer(web):
    crm = web.crm
    crm.plugins.enable("collaborative")
    for ref in ("C2", "C3"):
        crm.customers.set_consent(ref, "email", True, source="web form")
    crm.staff.set_password("mia", PASSWORD)
    pages = sign_in(web, "mia")
    card = {ref: pages.get(f"/customers/{ref}") for ref in ("C2", "C3")}
    assert card["C2"].status_code == 200, card["C2"].text
    assert "Consent: email" not in card["C2"].text
    assert "Consent: email" in card["C3"].text


def test_an_organisation_s_export_leaves_out_hidden_people_and_masks_per_customer(web):
    answer = web.client(web.manager).get("/api/v1/customers/O1/export")
    assert answer.status_code == 200, answer.text
    assert answer.json()["people"] == [{"external_id": "C2", "name": "***"},
                                       {"external_id": "C3", "name": "C3's name"}]
    full = web.client(web.admin).get("/api/v1/customers/O1/export").json()["people"]
    assert full == [{"external_id": ref, "name": f"{ref}'s name"} for ref in TAGS]


def test_the_customer_list_reads_organisations_per_page_not_per_customer(web, statements):
    web.crm.customers.add_many([{"external_id": f"M{n:02}", "organisation": "O1"}
                                for n in range(20)])
    manager = web.client(web.manager)
    sizes = []
    for limit in (2, 20):
        with statements(web.crm.engine, "FROM customers") as seen:
            answer = manager.get("/api/v1/customers", params={"limit": limit})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == limit - 1  # C1 is hidden
        sizes.append(len(seen))
    assert sizes[0] == sizes[1]


def rows_of(*keys: str) -> Callable[[Any], list[str | None]]:
    """The customers a list's answer names: each row's ``keys``."""
    return lambda answer: [row[key] for row in answer for key in keys]


def items_of(*keys: str) -> Callable[[Any], list[str | None]]:
    """The customers a page of a report names: each item's ``keys``."""
    return lambda answer: rows_of(*keys)(answer["items"])


def leave_out_the_hidden_customer(web, lists: list[tuple[str, Callable[[Any], list]]]) -> None:
    """Each of ``lists`` (a path under /api/v1/, the customers its answer names) lists the
    visible C3 but not C1, hidden from mia (the paths listing it are named together); the
    admin's lists C1 too (so each case can fail)."""
    leaking = []
    for path, customers_of in lists:
        answer = web.client(web.manager).get(f"/api/v1/{path}")
        assert answer.status_code == 200, (path, answer.text)
        named = customers_of(answer.json())
        assert "C3" in named, (path, named)
        assert "C1" in customers_of(web.client(web.admin).get(f"/api/v1/{path}").json()), path
        if "C1" in named:
            leaking.append(path)
    assert leaking == []


def bought(crm, *refs: str) -> None:
    """Purchases of ``refs`` (twice each, in December 2024) among those of 120 other
    customers (``web_support.history``), enough for the CLV models."""
    others = history()
    crm.customers.add_many([{"external_id": ref} for ref in sorted({r["customer"]
                                                                    for r in others})])
    crm.interactions.record_many(others + [
        {"customer": ref, "kind": "purchase", "amount": "900",
         "occurred_at": dt.datetime(2024, 12, day, tzinfo=UTC)}
        for ref in refs for day in (2, 20)])


def test_the_analytical_lists_leave_out_hidden_customers(web):
    crm = web.crm
    crm.plugins.enable("analytical")
    bought(crm, *TAGS)
    crm.plugin("analytical").save_segment(
        "tagged", {"field": "external_id", "op": "in", "value": list(TAGS)})
    leave_out_the_hidden_customer(web, [
        ("analytical/rfm?limit=1000", items_of("customer")),
        ("analytical/clv/predictions?limit=1000", items_of("customer")),
        ("analytical/segments/tagged", lambda answer: answer["members"]),
    ])
    # a hidden customer keeps its place in the report: its page comes back without it
    pages, query = [], {"limit": 1}
    while query is not None:
        page = web.client(web.manager).get("/api/v1/analytical/rfm", params=query).json()
        pages.append([row["customer"] for row in page["items"]])
        query = page["next_cursor"] and {"limit": 1, "cursor": page["next_cursor"]}
    everyone = web.client(web.admin).get("/api/v1/analytical/rfm", params={"limit": 1000})
    customers = [row["customer"] for row in everyone.json()["items"]]
    assert pages == [[] if ref == "C1" else [ref] for ref in customers]


def test_the_catalogue_lists_leave_out_hidden_customers(web):
    crm = web.crm
    crm.plugins.enable("catalogue", {"rules": {"min_support": 0.2, "min_confidence": 0.2,
                                               "min_lift": 0}})
    crm.plugin("catalogue").add_products([
        {"sku": sku, "name": sku, "category": "food", "list_price": "5", "unit_cost": "1"}
        for sku in ("BREAD", "TEA")])
    crm.customers.add_many([{"external_id": ref} for ref in ("B1", "B2")])
    crm.interactions.record_many([
        {"customer": ref, "kind": "purchase", "amount": str(5 * len(skus)),
         "occurred_at": dt.datetime(2024, 12, 5, tzinfo=UTC),
         "payload": {"items": [{"sku": sku, "qty": 1, "unit_price": "5"} for sku in skus]}}
        for ref, skus in (("B1", ("BREAD", "TEA")), ("B2", ("BREAD", "TEA")),
                          *((ref, ("BREAD",)) for ref in TAGS))])
    leave_out_the_hidden_customer(web, [
        ("catalogue/offers", items_of("customer")),
        ("catalogue/profit?by=customer", items_of("customer")),
    ])


def test_the_valuechain_lists_leave_out_hidden_customers_and_mask_names_per_customer(web):
    crm = web.crm
    for name in ("analytical", "valuechain"):
        crm.plugins.enable(name)
    bought(crm, *TAGS)
    chain = crm.plugin("valuechain")
    for ref in TAGS:
        chain.mark_ssc(ref, ["high_value"])
        chain.add_network_member("partner", f"{ref}'s fitter", "installs", customer=ref)
    chain.add_network_member("supplier", "Timber Co", "supplies")
    leave_out_the_hidden_customer(web, [
        ("valuechain/suggestions?top_share=1&limit=1000", items_of("customer")),
        ("valuechain/sscs", rows_of("customer")),
        ("valuechain/network", rows_of("customer")),
        ("valuechain/stages/intimacy",
         lambda answer: [ref for ref, _ in answer["evidence"]["least_complete"]]),
    ])
    manager = web.client(web.manager)
    assert {s["customer"]: s["name"] for s in manager.get("/api/v1/valuechain/sscs").json()
            } == {"C2": "***", "C3": "C3's name"}
    assert {s["customer"]: s["name"] for s in manager.get(
        "/api/v1/valuechain/suggestions", params={"top_share": 1, "limit": 1000}).json()["items"]
        if s["customer"] in TAGS} == {"C2": "***", "C3": "C3's name"}
    assert [(m["name"], m["customer"]) for m in manager.get("/api/v1/valuechain/network").json()
            ] == [("C2's fitter", "C2"), ("C3's fitter", "C3"), ("Timber Co", None)]


def test_the_social_referrals_leave_out_those_of_hidden_customers(web):
    crm = web.crm
    crm.plugins.enable("social")
    crm.customers.add_many([{"external_id": ref} for ref in ("R1", "R2", "R3")])
    social = crm.plugin("social")
    for code_of, referee in (("C3", "C1"), ("C1", "R1"), ("C3", "R2"), ("C2", "R3")):
        social.redeem_referral(social.referral_code(code_of), referee)
    leave_out_the_hidden_customer(web, [("social/referrals", items_of("referrer", "referee"))])
    assert [(r["referrer"], r["referee"]) for r in web.client(web.manager).get(
        "/api/v1/social/referrals").json()["items"]] == [("C3", "R2"), ("C2", "R3")]


def test_a_campaigns_coupons_leave_out_those_of_hidden_customers(web):
    crm = web.crm
    crm.plugins.configure_core({**crm.core_config, "public_url": "https://crm.example.com"})
    crm.plugins.enable("campaigns")
    for ref in TAGS:
        crm.customers.update(ref, email=f"{ref.lower()}@example.com")
        crm.customers.set_consent(ref, "email", True, "signup form")
    campaigns = crm.plugin("campaigns")
    campaigns.add("spring", channel="email", subject="Spring", template="Hi {{ name }}",
                  condition={"field": "external_id", "op": "in", "value": list(TAGS)})
    campaigns.run("spring")
    assert campaigns.set_offer("spring", "percent", "10", valid_days=14) == 3
    leave_out_the_hidden_customer(web, [("campaigns/campaigns/spring/coupons",
                                         items_of("customer"))])


def test_the_audit_log_page_leaves_out_hidden_customers_and_masks_per_customer(web):
    crm = web.crm
    for ref in TAGS:
        crm.command = f"crmkit customers update {ref} --email {ref.lower()}@mail.example"
        crm.customers.update(ref, email=f"{ref.lower()}@mail.example")
    crm.command = None
    for handle in ("mia", "root"):
        crm.staff.set_password(handle, PASSWORD)
    mia = sign_in(web, "mia")
    rows = audit_rows(mia.get("/admin/audit").text)
    assert {r["Record"] for r in rows if r["Record"].startswith("customers")} == {
        "customers O1", "customers C2", "customers C3"}
    updates = {r["Record"]: r for r in rows if r["Action"] == "update"}
    assert updates["customers C3"]["Command"] == (
        "crmkit customers update C3 --email c3@mail.example")
    assert "c3@mail.example" in updates["customers C3"]["Changes"]
    assert updates["customers C2"]["Command"] == "crmkit customers update (arguments hidden)"
    assert updates["customers C2"]["Changes"] == '{"email": [null, "***"]}'
    for probe, found in (("c3@mail", ["customers C3"]), ("c2@mail", []), ("update C1", [])):
        page = mia.get("/admin/audit", params={"command": probe})
        assert [r["Record"] for r in audit_rows(page.text)] == found, probe
    everything = audit_rows(sign_in(web, "root").get("/admin/audit").text)
    assert {r["Record"] for r in everything if r["Record"].startswith("customers")} == {
        f"customers {ref}" for ref in ("O1", *TAGS)}
    assert "c2@mail.example" in str(everything)


def test_a_stage_completion_names_each_least_complete_ssc_in_an_entry_about_it(web):
    crm = web.crm
    crm.plugins.enable("analytical")
    crm.plugins.enable("valuechain", {"profile_fields": ["name", "email"],
                                      "min_intimacy": 0.5})
    chain = crm.plugin("valuechain")
    for ref in TAGS:
        chain.mark_ssc(ref, ["benchmark"])
    for stage in (1, 2):
        chain.complete(stage)
    for handle in ("mia", "root"):
        crm.staff.set_password(handle, PASSWORD)

    def completed(client) -> list[tuple[str, str]]:
        return [(r["Record"], r["Changes"]) for r in audit_rows(client.get("/admin/audit").text)
                if r["Action"] == "complete_stage"]

    def least_complete(ref: str) -> tuple[str, str]:
        return ("valuechain_stages 2",
                f'{{"least_complete": {{"completeness": 0.5, "customer": "{ref}"}}}}')

    stage_2 = ("valuechain_stages 2", '{"evidence": {"completeness": 0.5, "sscs": 3}}')
    stage_1 = ("valuechain_stages 1",
               '{"evidence": {"by_reason": {"benchmark": 3, "door_opener": 0, "high_value": 0, '
               '"inspiration": 0}, "sscs": 3}}')
    assert completed(sign_in(web, "mia")) == [least_complete("C3"), least_complete("C2"),
                                              stage_2, stage_1]
    assert completed(sign_in(web, "root")) == [least_complete("C3"), least_complete("C2"),
                                               least_complete("C1"), stage_2, stage_1]
    timeline = web.client(web.manager).get("/api/v1/customers/C3/timeline").json()
    assert [e["details"]["changes"] for e in timeline
            if e["kind"] == "valuechain_stages.complete_stage"] == [
        {"least_complete": {"customer": "C3", "completeness": 0.5}}]
