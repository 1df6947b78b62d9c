"""What a member without ``customers.pii`` (the default viewer; for the audit log, which the
viewer may not read, an auditor reading everything) reads, in the web app and the API alike:
the audit log and the timeline without customers' personal values or command arguments,
social handles masked, a search that looks only at what they see, and errors that name no
database.

Every test runs the app in-process (``crmkit.devtools.testing``'s clients on the ``crm``
fixture), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from crmkit.customers import MAX_SEARCH_TEXT
from crmkit.devtools.testing import api_client, web_client
from crmkit.errors import DatabaseError
from crmkit.web import admin as admin_pages
from crmkit.web.dispatch import DATABASE_UNAVAILABLE
from web_support import audit_rows

UTC = dt.timezone.utc
NAME, EMAIL, PHONE = "Joan Clarke", "joan.clarke.1397@example.co", "+44 20 7946 0018"
HANDLE = "joan_clarke261"
PERSONAL = (NAME, "Joan", "Clarke", EMAIL, "joan.clarke", "7946", HANDLE, "Loving the scones")


@pytest.fixture
def shop(crm):
    """Customer C1 (added with the CLI's command recorded, then changed), a social handle
    and a mention of it."""
    crm.plugins.enable("social")
    crm.command = f'crmkit customers add C1 "{NAME}" --email {EMAIL} --phone "{PHONE}"'
    crm.customers.add("C1", NAME, email=EMAIL, phone=PHONE, tags=["vip"],
                      lifecycle_stage="lead")
    crm.command = f"crmkit customers update C1 --email joan@clarke.example --name '{NAME}'"
    crm.customers.update("C1", email="joan@clarke.example", lifecycle_stage="customer")
    crm.command = None
    social = crm.plugin("social")
    social.link_handle("C1", "instagram", HANDLE)
    social.import_mentions([{"platform": "instagram", "post_id": "p1", "handle": HANDLE,
                             "text": "Loving the scones", "posted_at": "2024-12-01T10:00:00Z"}])
    return crm


def personal_in(text: str) -> list[str]:
    return [value for value in PERSONAL if value.lower() in html.unescape(text).lower()]


def auditor(crm):
    """The web client of member ``auditor``, whose role reads everything, the audit log too,
    without ``customers.pii``."""
    roles = crm.core_config["roles"] | {"auditor": ["*.read"]}
    crm.plugins.configure_core(crm.core_config | {"roles": roles})
    return web_client(crm, role="auditor")


# -- the audit log ------------------------------------------------------------------------------


def test_the_default_viewer_may_not_read_the_audit_log(shop):
    with web_client(shop, role="viewer") as viewer:
        page = viewer.get("/admin/audit")
        assert page.status_code == 403 and audit_rows(page.text) == []
        assert ("&#39;viewer&#39; (role viewer) may not audit.read: the role does not grant "
                "it") in page.text
        admin = viewer.get("/admin")  # plugins.read still shows the admin pages, not the log
        assert admin.status_code == 200 and 'href="/admin/audit"' not in admin.text


def test_a_member_without_pii_reads_the_audit_log_without_personal_values_or_arguments(shop):
    with web_client(shop, role="manager") as manager:
        full = manager.get("/admin/audit", params={"command": "customers"})
    assert full.status_code == 200 and EMAIL in html.unescape(full.text)
    with auditor(shop) as reader:
        page = reader.get("/admin/audit", params={"command": "customers"})
        assert page.status_code == 200 and personal_in(page.text) == []
        rows = audit_rows(page.text)
        assert [(r["Action"], r["Record"], r["Command"]) for r in rows] == [
            ("update", "customers C1", "crmkit customers update (arguments hidden)"),
            ("create", "customers C1", "crmkit customers add (arguments hidden)")]
        changes = [r["Changes"] for r in rows]
        assert changes[0] == ('{"email": ["***", "***"], '
                              '"lifecycle_stage": ["lead", "customer"]}')
        assert '"name": "***"' in changes[1] and '"phone": "***"' in changes[1]
        assert '"tags": ["vip"]' in changes[1] and '"external_id": "C1"' in changes[1]
        assert "does not see customers' personal data" in html.unescape(page.text)
        # the filter looks only at what the reader sees: it tells nothing of the arguments
        for probe in ("joan", "clarke", "example.co", "7946", "--email"):
            assert audit_rows(reader.get("/admin/audit", params={"command": probe}).text) == []
        assert len(audit_rows(reader.get("/admin/audit",
                                         params={"command": "arguments"}).text)) == 0
        assert len(audit_rows(reader.get("/admin/audit",
                                         params={"command": "CUSTOMERS ADD"}).text)) == 1
    with web_client(shop, role="manager") as manager:
        found = audit_rows(manager.get("/admin/audit", params={"command": "clarke"}).text)
    assert [r["Action"] for r in found] == ["update", "create"]


def test_a_command_filter_without_pii_pages_through_a_long_log(crm, clock):
    crm.command = "crmkit import customers people-of-joan.csv"
    crm.customers.add_many([{"external_id": f"C{n:03d}", "name": f"Person {n}"}
                            for n in range(120)])
    crm.command = "crmkit customers update C000 --name Joan"
    for n in range(60):
        clock.advance(seconds=1)
        crm.customers.update("C000", name=f"Joan {n}")
    crm.command = None
    with auditor(crm) as reader:
        assert audit_rows(reader.get("/admin/audit", params={"command": "joan"}).text) == []
        page = reader.get("/admin/audit", params={"command": "customers import"})
        assert audit_rows(page.text) == []  # "crmkit import customers": the words differ
        page = reader.get("/admin/audit", params={"command": "import customers"})
        rows = audit_rows(page.text)
        assert len(rows) == 50 and {r["Command"] for r in rows} == {
            "crmkit import customers (arguments hidden)"}
        older = re.search(r'href="(/admin/audit\?[^"]+)" rel="next"', page.text).group(1)
        page = reader.get(html.unescape(older))
        assert len(audit_rows(page.text)) == 50
        older = re.search(r'href="(/admin/audit\?[^"]+)" rel="next"', page.text).group(1)
        page = reader.get(html.unescape(older))
        assert len(audit_rows(page.text)) == 20 and 'rel="next"' not in page.text
        updates = audit_rows(reader.get("/admin/audit", params={"command": "update"}).text)
        assert len(updates) == 50 and personal_in(str(updates)) == []


def test_a_command_filter_without_pii_reads_a_bounded_part_of_the_log_per_page(crm,
                                                                              monkeypatch):
    monkeypatch.setattr(admin_pages, "AUDIT_BATCH", 10)
    monkeypatch.setattr(admin_pages, "AUDIT_SCAN", 30)
    crm.command = "crmkit import customers joan.csv"
    crm.customers.add_many([{"external_id": f"C{n:03d}"} for n in range(45)])
    crm.command = "crmkit customers add X1"
    crm.customers.add("X1")
    crm.command = None
    with auditor(crm) as reader:
        page = reader.get("/admin/audit", params={"command": "joan"})
        assert audit_rows(page.text) == []
        assert "30 entries read without filling this page" in page.text
        assert "No audit entry matches" not in page.text
        older = re.search(r'href="(/admin/audit\?[^"]+)" rel="next"', page.text).group(1)
        last = reader.get(html.unescape(older))
        assert audit_rows(last.text) == [] and 'rel="next"' not in last.text
        assert "No audit entry matches" in last.text
        page = reader.get("/admin/audit", params={"command": "customers add"})
        assert [r["Record"] for r in audit_rows(page.text)] == ["customers X1"]


def test_the_audit_filters_refuse_a_text_longer_than_their_limit(shop):
    with auditor(shop) as reader:
        page = reader.get("/admin/audit", params={"command": "a" * 50_000})
    assert page.status_code == 422
    assert "command: text of 50000 characters is too long (allowed: at most 200" in page.text


# -- the timeline --------------------------------------------------------------------------------


def test_a_viewer_s_timeline_masks_handles_posts_and_audit_values_in_the_web_and_the_api(shop):
    with api_client(shop, role="viewer") as viewer:
        entries = viewer.get("/api/v1/customers/C1/timeline").json()
    with web_client(shop, role="viewer") as viewer:
        page = viewer.get("/customers/C1")
    assert page.status_code == 200 and personal_in(page.text) == []
    assert personal_in(str(entries)) == []
    summaries = {e["kind"]: e["summary"] for e in entries}
    assert summaries["identity"] == "instagram handle *** linked"
    assert re.fullmatch(r"instagram mention by \*\*\*, positive \(\+0\.\d\d\): \*\*\*",
                        summaries["mention"])
    for summary in summaries.values():
        assert summary in html.unescape(page.text)
    update = next(e for e in entries if e["kind"] == "customers.update")
    assert update["details"] == {
        "actor": "system", "command": "crmkit customers update (arguments hidden)",
        "changes": {"email": ["***", "***"], "lifecycle_stage": ["lead", "customer"]}}
    assert all(e["details"] == {} for e in entries if e["source"] != "core")
    assert all(set(e) == {"at", "kind", "summary", "details", "source"} for e in entries)


def test_an_agent_s_timeline_shows_the_handles_posts_and_audit_values(shop):
    with api_client(shop, role="agent") as agent:
        entries = agent.get("/api/v1/customers/C1/timeline").json()
    with web_client(shop, role="agent") as agent:
        page = html.unescape(agent.get("/customers/C1").text)
    summaries = {e["kind"]: e["summary"] for e in entries}
    assert summaries["identity"] == f"instagram handle @{HANDLE} linked"
    assert summaries["mention"].startswith(f"instagram mention by @{HANDLE}, positive (")
    assert summaries["mention"].endswith("): Loving the scones")
    assert summaries["identity"] in page and summaries["mention"] in page
    update = next(e for e in entries if e["kind"] == "customers.update")
    assert update["details"]["changes"]["email"] == [EMAIL, "joan@clarke.example"]
    assert NAME in update["details"]["command"]
    assert all("personal" not in e for e in entries)


def test_the_social_routes_mask_handles_and_posts_for_a_viewer(shop):
    with api_client(shop, role="viewer") as viewer:
        identities = viewer.get("/api/v1/social/identities").json()["items"]
        mentions = viewer.get("/api/v1/social/mentions").json()
    assert [(i["customer"], i["handle"]) for i in identities] == [("C1", "***")]
    assert [(m["handle"], m["text"], m["post_id"]) for m in mentions] == [("***", "***", "***")]
    assert mentions[0]["label"] == "positive"
    with api_client(shop, role="agent") as agent:
        assert agent.get("/api/v1/social/identities").json()["items"][0]["handle"] == HANDLE


# -- events and interactions -------------------------------------------------------------------


def test_a_viewer_reads_events_without_the_payload_values_their_types_declare_personal(shop):
    shop.plugin("social").import_mentions([
        {"platform": "instagram", "post_id": "p2", "handle": HANDLE,
         "text": "This is the worst service ever", "posted_at": "2024-12-02T10:00:00Z"}])
    c1 = shop.customers.get("C1").id
    with shop.transaction() as tx:
        tx.emit("message.bounced", c1, {"message_id": "<m1@shop.example>", "channel": "email",
                                        "error": f"550 <{EMAIL}>: no such user",
                                        "meta": {"campaign": "spring"}})
        tx.emit("legacy.noted", c1, {"note": f"called {NAME}", "count": 2}, source="legacy")
    with api_client(shop, role="agent") as agent:
        full = {e["type"]: e["payload"] for e in agent.get("/api/v1/events").json()["items"]}
    assert full["social.negative_mention"]["handle"] == HANDLE
    assert full["message.bounced"]["error"] == f"550 <{EMAIL}>: no such user"
    assert full["legacy.noted"] == {"note": f"called {NAME}", "count": 2}
    with api_client(shop, role="viewer") as viewer:
        answer = viewer.get("/api/v1/events")
    assert answer.status_code == 200 and personal_in(answer.text) == []
    shown = {e["type"]: e["payload"] for e in answer.json()["items"]}
    assert shown["social.negative_mention"] == {**full["social.negative_mention"],
                                                "handle": "***"}
    assert shown["message.bounced"] == {**full["message.bounced"], "error": "***"}
    assert shown["legacy.noted"] == {"note": "***", "count": "***"}  # nobody declares it
    assert shown["customer.created"] == {"external_id": "C1"}
    assert shown["customer.updated"] == {"external_id": "C1",
                                         "fields": ["email", "lifecycle_stage"]}


def test_a_viewer_reads_operational_case_and_task_subjects_masked(shop, clock):
    """operational copies a complaint's text and a negative mention's handle into the cases
    it opens, and staff write names into task subjects: personal text (erasure clears it),
    masked for a viewer on the card, and in the timeline and events for a supervisor
    reading every record without ``customers.pii`` (the viewer reads none of operational's
    events, and of its timeline entries only those about their own records, here none: its
    rule restricts them to their own records)."""
    shop.plugins.enable("operational")
    shop.plugins.configure_core(shop.core_config | {"roles": shop.core_config["roles"] | {
        "supervisor": ["*.read", "operational.all", "!audit.read"]}})
    shop.staff.add("dee", "Dee", "support", role="agent")
    shop.interactions.record("C1", clock.now(), kind="complaint",
                             payload={"text": f"{NAME} found the scones stale"})
    shop.plugin("social").import_mentions([
        {"platform": "instagram", "post_id": "p3", "handle": HANDLE,
         "text": "This is the worst service ever", "posted_at": "2024-12-31T10:00:00Z"}])
    shop.plugin("operational").create_task("C1", f"Call {NAME} back", "dee",
                                           clock.now() + dt.timedelta(days=1))
    with api_client(shop, role="manager") as manager:
        full = manager.get("/api/v1/customers/C1/timeline").json()
    assert len(personal_in(str([e["summary"] for e in full if e["source"] == "operational"]))) > 1
    with web_client(shop, role="viewer") as viewer:
        page = viewer.get("/customers/C1")
    with web_client(shop, role="supervisor") as supervisor:
        timeline_page = supervisor.get("/customers/C1")
    with api_client(shop, role="supervisor") as supervisor:
        entries = supervisor.get("/api/v1/customers/C1/timeline").json()
        events = supervisor.get("/api/v1/events").json()["items"]
    assert {"task.created", "case.opened"} <= {e["type"] for e in events}
    for shown in (page, timeline_page):
        assert shown.status_code == 200 and personal_in(shown.text) == []
        assert 'data-panel="operational"' in shown.text
    assert 'data-source="operational"' in timeline_page.text
    assert personal_in(str(entries)) == [] and personal_in(str(events)) == []
    cases = sorted(e["summary"] for e in entries if e["kind"] == "case")
    assert len(cases) == 2 and all(re.fullmatch(r"case \d \(\w+\): \*\*\* — opened", c)
                                   for c in cases), cases


def test_a_viewer_reads_interactions_with_their_payloads_masked_as_in_the_timeline(shop):
    shop.plugins.configure_core({**shop.core_config, "roles": {
        **shop.core_config["roles"], "clerk": ["*.read", "interactions.write"]}})
    note = f"{NAME} called from {PHONE}: the scones were stale"
    shop.interactions.record("C1", dt.datetime(2024, 12, 3, tzinfo=UTC), kind="complaint",
                             channel="phone", payload={"text": note})
    shop.interactions.record("C1", dt.datetime(2024, 12, 4, tzinfo=UTC), kind="purchase",
                             amount="9.50", currency="GBP")
    with api_client(shop, role="agent") as agent:
        full = agent.get("/api/v1/interactions", params={"customer": "C1"}).json()["items"]
    assert [i["payload"] for i in full] == [None, {"text": note}]
    with api_client(shop, role="viewer") as viewer:
        answer = viewer.get("/api/v1/interactions", params={"customer": "C1"})
        entries = viewer.get("/api/v1/customers/C1/timeline").json()
    with web_client(shop, role="viewer") as viewer:
        page = viewer.get("/customers/C1")
    assert answer.status_code == 200 and personal_in(answer.text) == []
    assert personal_in(page.text) == [] and "stale" not in page.text
    shown = answer.json()["items"]
    assert shown == [full[0], {**full[1], "payload": "***"}]
    complaint = next(e for e in entries if e["kind"] == "complaint")
    assert complaint["summary"] == "complaint via phone"
    assert complaint["details"] == {"interaction_id": full[1]["id"], "external_id": None,
                                    "channel": "phone", "direction": "inbound",
                                    "amount": None, "currency": None, "payload": "***"}
    with api_client(shop, role="clerk") as clerk:
        written = clerk.post("/api/v1/interactions", json={
            "customer": "C1", "kind": "note", "payload": {"text": note}})
    assert written.status_code == 201 and written.json()["payload"] == "***"
    assert shop.interactions.get(written.json()["id"]).payload == {"text": note}


# -- search ----------------------------------------------------------------------------------


def found(client, path: str, q: str) -> list[str]:
    """The external ids a search lists (web page or API)."""
    answer = client.get(path, params={"q": q})
    assert answer.status_code == 200, answer.text
    if path.startswith("/api/"):
        return [item["external_id"] for item in answer.json()["items"]]
    return re.findall(r'<tr data-customer="([^"]+)">', answer.text)


@pytest.mark.parametrize("path", ["/customers", "/api/v1/customers"])
def test_a_viewer_finds_customers_only_by_what_it_sees(shop, path):
    shop.customers.add("JOAN-7", "Someone Else")
    client = (web_client if path == "/customers" else api_client)(shop, role="viewer")
    with client as viewer:
        for probe in ("joan@clarke.example", "n@clarke", "Clarke", NAME, "7946 0018", "0018"):
            assert found(viewer, path, probe) == []
        assert found(viewer, path, "joan") == ["JOAN-7"]  # its external id
        assert found(viewer, path, "c1") == ["C1"]
        assert found(viewer, path, "vip") == ["C1"]
        if path == "/customers":
            page = viewer.get(path).text
            assert "Search by tag or external id" in page
            assert "does not look in them" in page
    client = (web_client if path == "/customers" else api_client)(shop, role="agent")
    with client as agent:
        assert found(agent, path, "n@clarke.ex") == ["C1"]
        assert found(agent, path, "clarke") == ["C1"]
        assert found(agent, path, "7946 0018") == ["C1"]
        assert found(agent, path, "joan") == ["C1", "JOAN-7"]


@pytest.mark.parametrize("path", ["/customers", "/api/v1/customers"])
def test_a_search_text_longer_than_the_limit_is_one_clear_422(shop, path):
    client = (web_client if path == "/customers" else api_client)(shop, role="viewer")
    with client as viewer:
        answer = viewer.get(path, params={"q": "a" * 50_000})
        assert answer.status_code == 422
        assert ("q: text of 50000 characters is too long (allowed: at most "
                f"{MAX_SEARCH_TEXT} characters)") in answer.text
        assert "sqlite" not in answer.text and "postgresql" not in answer.text
        assert viewer.get(path, params={"q": "a" * MAX_SEARCH_TEXT}).status_code == 200


# -- database errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/customers", "/admin/audit", "/api/v1/customers"])
def test_a_database_error_names_no_database(shop, path, monkeypatch, caplog):
    failure = DatabaseError(f"{shop.url}: connection to server at db.internal failed")

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(type(shop.customers), "search", fail)
    monkeypatch.setattr("crmkit.services.audit.AuditLog.list", fail)
    client = (api_client if path.startswith("/api/") else web_client)(shop, role="admin")
    with client as admin:
        answer = admin.get(path, params={"q": "x"})
    assert answer.status_code == 503
    assert DATABASE_UNAVAILABLE.split(":")[0] in html.unescape(answer.text)
    assert shop.url.split("://")[0] not in answer.text and "db.internal" not in answer.text
    assert "db.internal" in caplog.text  # for the server's log
