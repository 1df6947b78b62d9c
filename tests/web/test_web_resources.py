"""The core resources under /api/v1, in-process: what each does through the core services."""

from __future__ import annotations

import base64
import urllib.parse

import pytest
from sqlalchemy import select

from crmkit import tables


@pytest.fixture
def admin(api):
    return api.client(api.token("root", role="admin"))


def test_customer_search_pages_with_a_cursor(api, admin):
    for n in range(1, 8):
        assert admin.post("/api/v1/customers", json={
            "external_id": f"C{n}", "name": f"Person {n}", "tags": ["vip"] if n % 2 else [],
        }).status_code == 201
    first = admin.get("/api/v1/customers", params={"tag": "vip", "limit": 2}).json()
    assert [c["external_id"] for c in first["items"]] == ["C1", "C3"]
    second = admin.get("/api/v1/customers", params={"tag": "vip", "limit": 2,
                                                    "cursor": first["next_cursor"]}).json()
    assert [c["external_id"] for c in second["items"]] == ["C5", "C7"]
    assert second["next_cursor"] is None
    found = admin.get("/api/v1/customers", params={"q": "person 6"}).json()
    assert [c["external_id"] for c in found["items"]] == ["C6"]
    too_many = admin.get("/api/v1/customers", params={"limit": 201})
    assert too_many.status_code == 422
    assert too_many.json()["errors"] == [{"parameter": "limit",
                                          "detail": "201 is greater than the maximum of 200 (allowed: maximum 200)"}]
    forged = admin.get("/api/v1/customers", params={"cursor": "abc"})
    assert forged.status_code == 422 and forged.json()["errors"][0]["parameter"] == "cursor"


@pytest.mark.parametrize("path, position", [
    ("customers", "1" + "0" * 31),  # beyond the databases' integers
    ("interactions", '["2025-01-01T00:00:00+00:00", 1' + "0" * 31 + "]"),
    ("customers", "[" * 4000 + "]" * 4000),  # nested too deep to read
])
def test_a_cursor_this_api_did_not_hand_out_is_one_problem(admin, path, position):
    cursor = base64.urlsafe_b64encode(position.encode()).decode()
    answer = admin.get(f"/api/v1/{path}", params={"cursor": cursor})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"parameter": "cursor", "detail": (
        "not a cursor this API handed out (pass next_cursor of the previous page)")}]


def test_customer_read_patch_timeline_merge_export_erase(api, admin):
    admin.post("/api/v1/customers", json={"external_id": "ORG", "type": "organisation",
                                          "name": "Acme"})
    created = admin.post("/api/v1/customers", json={
        "external_id": "C1", "name": "Ada", "organisation": "ORG", "attributes": {"size": 3}})
    assert created.json()["organisation"] == "ORG"
    assert "id" not in created.json()
    patched = admin.patch("/api/v1/customers/C1", json={"attributes": {"shoe": 38},
                                                        "email": "ada@example.com"})
    assert patched.status_code == 200
    assert patched.json()["attributes"] == {"size": 3, "shoe": 38}
    bad = admin.patch("/api/v1/customers/C1", json={"email": "nope"})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"pointer": "/email",
                                     "detail": "'nope' is not an email address"}]
    timeline = admin.get("/api/v1/customers/C1/timeline").json()
    assert [e["kind"] for e in timeline] == ["customers.update", "customers.create"]
    admin.post("/api/v1/customers", json={"external_id": "C2", "phone": "+1 202 555 0100"})
    merged = admin.post("/api/v1/customers/C1/merge", json={"duplicate": "C2"})
    assert merged.status_code == 200 and merged.json()["phone"] == "+12025550100"
    gone = admin.get("/api/v1/customers/C2")
    assert gone.status_code == 404 and "was merged into 'C1'" in gone.json()["detail"]
    exported = admin.get("/api/v1/customers/C1/export")
    assert exported.status_code == 200
    assert exported.json()["customer"]["email"] == "ada@example.com"
    erased = admin.post("/api/v1/customers/C1/erase")
    assert erased.status_code == 200 and erased.json()["email"] is None
    assert erased.json()["erased_at"] is not None
    with api.crm.read() as conn:
        actors = {r.actor for r in conn.execute(select(tables.audit_log.c.actor).where(
            tables.audit_log.c.table_name == "customers"))}
        requests = conn.execute(select(tables.privacy_requests.c.actor,
                                       tables.privacy_requests.c.kind)).all()
    assert actors == {"root"}
    assert sorted(requests) == [("root", "erase"), ("root", "export")]


def test_interactions_one_or_a_list_and_their_listing(api, admin):
    admin.post("/api/v1/customers", json={"external_id": "C1"})
    one = admin.post("/api/v1/interactions", json={
        "customer": "C1", "occurred_at": "2024-12-01T10:00:00+01:00", "amount": "12.50",
        "currency": "EUR", "payload": {"sku": "A1"}})
    assert one.status_code == 201
    document = one.json()
    assert (document["customer"], document["occurred_at"], document["amount"],
            document["actor"]) == ("C1", "2024-12-01T09:00:00+00:00", "12.50", "root")
    many = admin.post("/api/v1/interactions", json=[
        {"customer": "C1", "kind": "call", "occurred_at": "2024-12-02"},
        {"customer": "C1", "kind": "visit", "occurred_at": "2024-12-03"}])
    assert many.status_code == 201 and many.json() == {"created": 2, "unchanged": 0}
    bad = admin.post("/api/v1/interactions", json=[
        {"customer": "C1", "kind": "call", "occurred_at": "2024-12-04"},
        {"customer": "C404", "kind": "call", "occurred_at": "yesterday"}])
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["/1/occurred_at"]
    unknown = admin.post("/api/v1/interactions", json={"customer": "C404"}).json()
    # the API has no --create-customers: the problem does not offer it
    assert unknown["errors"] == [{"pointer": "/customer",
                                  "detail": "unknown customer 'C404' (create it first)"}]
    for body, pointer in (({"customer": "C1", "kind": 5}, "/kind"),  # one, or one of a list:
                          ([{"customer": "C1"}, {"customer": "C1", "direction": "up"}],
                           "/1/direction")):                   # the field, not the whole body
        wrong = admin.post("/api/v1/interactions", json=body).json()
        assert [e["pointer"] for e in wrong["errors"]] == [pointer]
    listed = admin.get("/api/v1/interactions", params={"customer": "C1"}).json()
    assert [i["kind"] for i in listed["items"]] == ["visit", "call", "purchase"]
    assert listed["next_cursor"] is None
    admin.post("/api/v1/interactions", json=[  # two at one instant: the id breaks the tie
        {"customer": "C1", "kind": "survey", "occurred_at": "2024-12-02"},
        {"customer": "C1", "kind": "complaint", "occurred_at": "2024-12-02"}])
    pages, cursor = [], None
    while True:
        page = admin.get("/api/v1/interactions", params={
            "limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        pages.append([i["kind"] for i in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["visit", "complaint"], ["survey", "call"], ["purchase"]]
    assert admin.get("/api/v1/interactions", params={"since": "soon"}).json()["errors"][0][
        "parameter"] == "since"
    assert [i["kind"] for i in admin.get("/api/v1/interactions", params={
        "since": "2024-12-02T12:00:00Z"}).json()["items"]] == ["visit"]


def test_the_detail_of_one_object_names_the_field_and_of_a_list_the_row(admin):
    admin.post("/api/v1/customers", json={"external_id": "C1"})
    for body, detail in [
            ({"external_id": "C2", "email": "bad"}, "email: 'bad' is not an email address"),
            ([{"customer": "C1"}, {"customer": "C1", "currency": "XYZ"}],
             "row 2: currency: 'XYZ' is not an ISO 4217 currency code (allowed: three letters "
             "of ISO 4217, e.g. USD, EUR, GBP)"),
            ({"customer": "C1", "currency": "XYZ"},
             "currency: 'XYZ' is not an ISO 4217 currency code (allowed: three letters of "
             "ISO 4217, e.g. USD, EUR, GBP)"),
            ({"customer": "C1", "occurred_at": "soon"},
             "occurred_at: 'soon' is not an ISO 8601 date or date-time (e.g. "
             "2024-05-01T13:00:00Z)")]:
        path = "/api/v1/customers" if "external_id" in body else "/api/v1/interactions"
        answer = admin.post(path, json=body)
        assert (answer.status_code, answer.json()["detail"]) == (422, detail)


@pytest.mark.parametrize("body, detail", [
    ("x", "body: 'x' is not valid under any of the given schemas (allowed: type object, or "
          "type array)"),
    ([{"customer": "C1"}] * 1001, "body: 1001 items (allowed: at most 1000 items)"),
    ([], "body: 0 items (allowed: at least 1 item)"),
    ({"customer": "C1", "direction": "x" * 5000}, "body: /direction: text of 5000 characters "
                                                  "is not one of ['inbound', 'outbound']"),
])
def test_a_refused_interactions_body_says_what_is_allowed_and_never_repeats_a_huge_value(
        api, admin, body, detail):
    admin.post("/api/v1/customers", json={"external_id": "C1"})
    answer = admin.post("/api/v1/interactions", json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(detail)
    assert len(answer.content) < 1000
    assert admin.get("/api/v1/interactions").json()["items"] == []


def test_a_refund_of_another_customers_purchase_or_not_of_a_purchase_is_one_problem(api, admin):
    for customer in ("A", "B"):
        admin.post("/api/v1/customers", json={"external_id": customer})
    refund = {"customer": "B", "kind": "refund", "occurred_at": "2026-11-02",
              "payload": {"refund_of": "PA"}}
    bad = admin.post("/api/v1/interactions", json=[
        {"customer": "A", "occurred_at": "2026-11-01", "amount": "100", "external_id": "PA"},
        refund])
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"pointer": "/1/payload/refund_of", "detail": (
        "'PA' is a purchase of another customer; a refund is recorded on the customer of the "
        "purchase it refunds")}]
    assert admin.get("/api/v1/interactions").json()["items"] == []
    bad = admin.post("/api/v1/interactions", json=[
        {"customer": "B", "kind": "email", "occurred_at": "2026-11-01", "external_id": "PA"},
        refund])
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"pointer": "/1/payload/refund_of", "detail": (
        "'PA' is not a purchase (its kind is 'email'); a refund names the external id of the "
        "purchase it refunds")}]
    assert admin.get("/api/v1/interactions").json()["items"] == []


def test_events_after_and_plugins_config(api, admin):
    admin.post("/api/v1/customers", json={"external_id": "C1"})
    events = admin.get("/api/v1/events").json()
    assert [(e["type"], e["customer"]) for e in events["items"]] == [("customer.created", "C1")]
    admin.post("/api/v1/customers", json={"external_id": "C2"})
    after = admin.get("/api/v1/events", params={"after": events["next_after"]}).json()
    assert [e["customer"] for e in after["items"]] == ["C2"]
    plugins = {p["name"]: p["status"] for p in admin.get("/api/v1/plugins").json()}
    assert plugins["loyalty"] == "disabled"
    api.crm.plugins.enable("loyalty")
    config = admin.get("/api/v1/plugins/loyalty/config").json()
    config["points_per_unit"] = 2
    assert admin.put("/api/v1/plugins/loyalty/config", json=config).json()[
        "points_per_unit"] == 2
    wrong = admin.put("/api/v1/plugins/loyalty/config", json={**config, "points_per_unit": -1,
                                                                "colour": "red"})
    assert wrong.status_code == 422
    assert sorted(e["pointer"] for e in wrong.json()["errors"]) == ["/colour",
                                                                     "/points_per_unit"]
    assert api.crm.plugins.config("loyalty")["points_per_unit"] == 2


def test_a_role_without_pii_sees_no_personal_values_in_the_timeline(api, admin):
    admin.post("/api/v1/customers", json={"external_id": "C1", "email": "ada@example.com"})
    admin.patch("/api/v1/customers/C1", json={"email": "ada@lovelace.org"})
    viewer = api.client(api.token("vic", role="viewer"))
    entries = viewer.get("/api/v1/customers/C1/timeline").json()
    assert [e["summary"] for e in entries] == ["updated email by root", "create by root"]
    assert [e["details"] for e in entries] == [  # who and which fields changed, masked values
        {"actor": "root", "changes": {"email": ["***", "***"]},
         "command": "api PATCH /api/v1/customers/{external_id}"},
        {"actor": "root", "changes": {"email": "***", "external_id": "C1", "type": "person"},
         "command": "api POST /api/v1/customers"}]
    assert "ada@" not in str(entries)


@pytest.mark.parametrize("external_id", ["Ωmega-1", "Q?x=1#f", "50% off", "a b", "a/b%2F"])
def test_a_new_customers_location_is_its_percent_encoded_path_that_reads_and_patches_it(
        api, admin, external_id):
    created = admin.post("/api/v1/customers", json={"external_id": external_id})
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location == "/api/v1/customers/" + urllib.parse.quote(external_id, safe="")
    assert location.isascii() and not {"?", "#", " "} & set(location)
    assert admin.get(location).json()["external_id"] == external_id
    patched = admin.patch(location, json={"name": "Renamed"})
    assert (patched.status_code, patched.json()["name"]) == (200, "Renamed")


def test_a_customer_whose_external_id_holds_a_slash_is_one_path_segment(api, admin):
    """``2024/001`` is ``2024%2F001`` in a path: core and plugin routes read it as one
    segment; unencoded, it is two segments and names no route."""
    api.crm.plugins.enable("loyalty")
    assert admin.post("/api/v1/customers", json={"external_id": "2024/001"}).status_code == 201
    assert admin.post("/api/v1/interactions", json={
        "customer": "2024/001", "kind": "purchase", "amount": "10"}).status_code == 201
    assert admin.get("/api/v1/customers/2024%2F001").json()["external_id"] == "2024/001"
    timeline = admin.get("/api/v1/customers/2024%2f001/timeline").json()
    assert "purchase 10 USD" in [e["summary"] for e in timeline]
    member = admin.get("/api/v1/loyalty/members/2024%2F001")
    assert (member.status_code, member.json()["balance"]) == (200, 10), member.text
    assert admin.get("/api/v1/customers/2024/001").status_code == 404
    assert admin.get("/api/v1/customers/%FF").status_code == 404  # no UTF-8 text: no route


def test_a_patch_of_type_keeps_the_organisation_rules(api, admin):
    admin.post("/api/v1/customers", json={"external_id": "ORG", "type": "organisation"})
    admin.post("/api/v1/customers", json={"external_id": "C1", "organisation": "ORG"})
    demoted = admin.patch("/api/v1/customers/ORG", json={"type": "person"})
    assert demoted.status_code == 422
    assert demoted.json()["errors"] == [{"pointer": "/type", "detail": (
        "'ORG' cannot become a person while customers belong to it ('C1'): give them another "
        "organisation first")}]
    promoted = admin.patch("/api/v1/customers/C1", json={"type": "organisation"})
    assert (promoted.status_code, promoted.json()["errors"][0]["pointer"]) == (422, "/type")
    assert admin.get("/api/v1/customers/C1").json()["organisation"] == "ORG"
    detached = admin.patch("/api/v1/customers/C1", json={"type": "organisation",
                                                         "organisation": None})
    assert detached.status_code == 200, detached.text
    assert (detached.json()["type"], detached.json()["organisation"]) == ("organisation", None)
    assert admin.patch("/api/v1/customers/ORG", json={"type": "person"}).status_code == 200
