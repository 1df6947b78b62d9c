"""/api/v1/webhooks: the webhooks and their delivery log over HTTP (webhooks.manage)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from webhooks.support import (assert_webhook_added, core_webhooks, slowly_checked_campaigns,
                              writes_while_checking)

from crmkit.services.audit import AuditLog
from crmkit.tables import audit_log, idempotency_keys, webhooks
from web_support import (InProcess, problem, row_level_api, serialisation_failure_once,
                         with_role)

SECRET = "api-secret-0123456789abcdef"
HOOK = {"url": "https://example.com/hooks", "event_types": ["customer.created"],
        "secret": SECRET}


def test_admin_adds_lists_reads_and_removes_a_webhook_never_seeing_its_secret(api):
    admin = api.client(api.token("root", role="admin"))
    created = admin.post("/api/v1/webhooks", json=HOOK)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook == {"id": 1, "url": "https://example.com/hooks",
                    "event_types": ["customer.created"], "active": True,
                    "created_at": hook["created_at"], "pending": 0, "delivered": 0,
                    "failed": 0}
    assert created.headers["location"] == "/api/v1/webhooks/1"
    api.crm.customers.add("C1", "Ada")

    listed = admin.get("/api/v1/webhooks")
    assert [(h["id"], h["pending"]) for h in listed.json()["items"]] == [(1, 1)]
    log = admin.get("/api/v1/webhooks/deliveries", params={"status": "pending"}).json()
    (row,) = log["items"]
    assert (row["webhook"], row["event_type"], row["status"], row["attempts"]) == (
        1, "customer.created", "pending", 0)
    assert log["next_after"] == row["row"]
    assert admin.get("/api/v1/webhooks/deliveries",
                     params={"after": log["next_after"]}).json()["items"] == []

    removed = admin.delete("/api/v1/webhooks/1")
    assert removed.status_code == 200
    assert (removed.json()["active"], removed.json()["failed"]) == (False, 1)
    assert admin.get("/api/v1/webhooks").json()["items"] == []
    assert [h["id"] for h in admin.get("/api/v1/webhooks",
                                       params={"include_removed": "true"}).json()["items"]] == [1]
    assert admin.delete("/api/v1/webhooks/1").status_code == 409
    assert admin.get("/api/v1/webhooks/7").status_code == 404
    assert admin.get("/api/v1/webhooks/seven").status_code == 404
    for malformed in ("9" * 25, "%C2%B2", "%D9%A1"):  # too large, superscript 2, Arabic-Indic 1
        assert admin.delete(f"/api/v1/webhooks/{malformed}").status_code == 404, malformed
        assert admin.get(f"/api/v1/webhooks/{malformed}").status_code == 404, malformed
    too_large = admin.get("/api/v1/webhooks/deliveries", params={"webhook": "9" * 25})
    assert too_large.status_code == 422
    assert too_large.json()["errors"][0]["parameter"] == "webhook"
    with api.crm.read() as conn:
        actors = conn.execute(select(audit_log.c.actor).where(
            audit_log.c.table_name == "webhooks").order_by(audit_log.c.id)).scalars().all()
    assert actors == ["root", "root"]
    everything = listed.text + log.__repr__() + removed.text
    assert SECRET not in everything


@pytest.mark.parametrize("role, status", [(None, 401), ("agent", 403), ("viewer", 403),
                                          ("manager", 201)])
def test_only_roles_with_webhooks_manage_may_add(api, role, status):
    client = api.client(api.token(f"user_{role}", role=role) if role else None)
    assert client.post("/api/v1/webhooks", json=HOOK).status_code == status


def webhooks_written(crm) -> tuple:
    """Every webhook stored, removed ones too, and every audit entry about one."""
    return (crm.webhooks.list(include_removed=True),
            [(e.actor, e.action, e.record_key) for e in AuditLog(crm).list(table="webhooks")])


HOOKER = ["webhooks.manage", "customers.read", "customers.pii", "events.read"]
"""A role that manages webhooks and reads customers, unmasked, and the event log."""


@pytest.mark.parametrize("patterns, event_types, missing", [
    (["webhooks.manage", "*.read"], ["customer.created"], ["customers.pii"]),
    (HOOKER, ["customer.created", "interaction.recorded"], ["interactions.read"]),
    (HOOKER, ["customer.created", "tier.changed"], ["loyalty.read"]),
    (["webhooks.manage", "customers.*", "interactions.read"], ["customer.updated"],
     ["events.read"]),
    (["webhooks.manage"], ["tier.changed"],
     ["customers.read", "customers.pii", "events.read", "loyalty.read"]),
])
def test_a_member_adds_only_a_webhook_whose_deliveries_their_role_lets_them_read(
        api, patterns, event_types, missing):
    """A webhook's deliveries carry every customer unmasked, and each event type's data: a
    member whose role lacks a permission reading them takes is refused (403, nothing stored
    or audited); with it, the same member adds the webhook."""
    api.crm.plugins.enable("loyalty")
    with_role(api.crm, "hooker", patterns)
    client = api.client(api.token("hal", role="hooker"))
    hook = {**HOOK, "event_types": event_types}
    before = webhooks_written(api.crm)
    answer = client.post("/api/v1/webhooks", json=hook)
    assert problem(answer, 403)["detail"] == (
        "'hal' (role hooker) may not add this webhook: its deliveries would let them read "
        f"what role hooker does not ({', '.join(missing)})")
    assert SECRET not in answer.text
    assert webhooks_written(api.crm) == before == ([], [])
    with_role(api.crm, "hooker", patterns + missing)
    assert client.post("/api/v1/webhooks", json=hook).status_code == 201
    assert_webhook_added(api.crm, HOOK["url"], "hal", "api POST /api/v1/webhooks")


def test_a_member_a_row_level_rule_hides_customers_from_adds_no_webhook(crm_url, clock):
    """The webtest plugin's rule hides customer C1 from mia (manager): deliveries would carry
    it, so she may add no webhook (403, nothing stored or audited); root (admin), from whom
    it hides nothing, may."""
    with row_level_api(crm_url, clock) as api:
        answer = api.client(api.manager).post("/api/v1/webhooks", json=HOOK)
        assert problem(answer, 403)["detail"] == (
            "'mia' (role manager) may not add this webhook: its deliveries would let them "
            "read every record, and the row-level rule of plugin 'webtest' hides some from "
            "them")
        assert webhooks_written(api.crm) == ([], [])
        assert api.client(api.admin).post("/api/v1/webhooks", json=HOOK).status_code == 201
        assert_webhook_added(api.crm, HOOK["url"], "root", "api POST /api/v1/webhooks")


def test_a_member_operational_restricts_adds_no_webhook_of_its_events(api):
    """operational's rule shows a member without operational.all only their own leads,
    tasks and cases: such a member may not add a webhook of operational's events (which
    carry everyone's), though one of the core's; a manager adds one of every event type."""
    api.crm.plugins.enable("operational")
    with_role(api.crm, "closer", ["*", "!operational.all"])
    closer = api.token("cleo", role="closer")
    answer = api.client(closer).post("/api/v1/webhooks",
                                     json={**HOOK, "event_types": ["lead.qualified"]})
    assert problem(answer, 403)["detail"] == (
        "'cleo' (role closer) may not add this webhook: its deliveries would let them read "
        "every record, and the row-level rule of plugin 'operational' hides some from them")
    assert webhooks_written(api.crm) == ([], [])
    assert api.client(closer).post("/api/v1/webhooks", json=HOOK).status_code == 201
    every = {**HOOK, "event_types": sorted(api.crm.events.types())}
    manager = api.client(api.token("boss", role="manager"))
    assert manager.post("/api/v1/webhooks", json=every).status_code == 201
    assert [h.event_types for h in api.crm.webhooks.list()] == [
        ("customer.created",), tuple(every["event_types"])]


@pytest.mark.parametrize("change, pointer, detail", [
    ({"url": "ftp://example.com/x"}, "/url",
     "'ftp://example.com/x' is not an http(s) URL (allowed: an absolute http:// or https:// "
     "URL with a host)"),
    ({"event_types": ["customer.craeted"]}, "/event_types",
     "unknown event type 'customer.craeted' (did you mean 'customer.created'?)"),
    ({"secret": ""}, "/secret", "empty (give at least 16 characters"),
    ({"secret": "short"}, "/secret", "5 characters; at least 16"),
    ({"colour": "red"}, "/colour", "unknown key"),
])
def test_bad_input_is_one_problem_with_its_pointer_and_nothing_is_written(api, change, pointer,
                                                                         detail):
    admin = api.client(api.token("root", role="admin"))
    answer = admin.post("/api/v1/webhooks", json={**HOOK, **change})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    (error,) = answer.json()["errors"]
    assert error["pointer"] == pointer and error["detail"].startswith(detail), error
    assert SECRET not in answer.text
    with api.crm.read() as conn:
        assert conn.execute(select(func.count()).select_from(webhooks)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.table_name == "webhooks")).scalar() == 0


def test_the_webhook_routes_are_in_the_openapi_document(api):
    paths = api.client().get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/webhooks"])
    assert {"get", "delete"} <= set(paths["/api/v1/webhooks/{webhook_id}"])
    assert "get" in paths["/api/v1/webhooks/deliveries"]


@pytest.mark.parametrize("url, detail", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address: "),
    ("http://[::1]:8742/ok", "::1 is a loopback address: "),
    ("http://0x7f000001:8742/ok", "'0x7f000001' resolves to 127.0.0.1, a loopback address: "),
    ("http://localhost:8741/api/v1/customers", "'localhost' resolves to "),
    ("https://10.1.2.3/in", "10.1.2.3 is a private address: "),
    ("http://0.0.0.0:8741/", "0.0.0.0 is an unspecified address: "),
    # IPv6 addresses that a NAT64 gateway, a 6to4 relay or an IPv4-compatible route turn
    # into an internal IPv4 address
    ("http://[64:ff9b::a00:1]/in", "64:ff9b::a00:1 is a private address (it carries "
                                   "10.0.0.1): "),
    ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe is a link-local address (it "
                                     "carries 169.254.169.254): "),
    ("http://[2002:7f00:1::1]/", "2002:7f00:1::1 is a loopback address (it carries "
                                 "127.0.0.1): "),
    ("http://[::10.0.0.1]/in", "::10.0.0.1 is a private address (it carries 10.0.0.1): "),
    ("http://[64:ff9b:1::a00:1]/in", "64:ff9b:1::a00:1 is a private address: "),
])
def test_internal_addresses_are_refused_unless_allowed(api, url, detail):
    manager = api.client(api.token("boss", role="manager"))
    answer = manager.post("/api/v1/webhooks", json={**HOOK, "url": url})
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["pointer"] == "/url" and error["detail"].startswith(detail), error
    assert error["detail"].endswith("webhooks may target it only when core config "
                                    "webhooks.allowed_networks lists it (now: none)")
    with api.crm.read() as conn:
        assert conn.execute(select(func.count()).select_from(webhooks)).scalar() == 0


def test_a_webhook_whose_host_name_resolves_too_slowly_is_a_422_and_not_stored(api,
                                                                              slow_resolver):
    config = dict(api.crm.core_config)
    config["webhooks"] = {**config["webhooks"], "timeout_seconds": 0.05}
    api.crm.plugins.configure_core(config)
    slow_resolver("hooks.example.test").hold()
    manager = api.client(api.token("boss", role="manager"))
    answer = manager.post("/api/v1/webhooks",
                          json={**HOOK, "url": "https://hooks.example.test/in"})
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["pointer"] == "/url" and error["detail"] == (
        "resolving 'hooks.example.test' took longer than 0.05 s (core config "
        "webhooks.timeout_seconds; allowed: a host whose name resolves within it, or an "
        "address)")
    with api.crm.read() as conn:
        assert conn.execute(select(func.count()).select_from(webhooks)).scalar() == 0


def test_a_webhook_post_holds_no_write_lock_while_its_host_is_resolved(tmp_path, clock,
                                                                         slow_resolver):
    """POST /api/v1/webhooks resolves the host before any write transaction opens: on
    SQLite, which has one writer at a time, another writer completes while the lookup waits;
    the webhook is then stored and audited under the caller and the request."""
    url = "https://hooks.example.test/in"
    with slowly_checked_campaigns(tmp_path / "crm.db", clock) as crm:
        api = InProcess(crm)
        try:
            client = api.client(api.token("boss", role="manager"))
            answer = slow_resolver("hooks.example.test").while_held(
                lambda: client.post("/api/v1/webhooks", json={**HOOK, "url": url}),
                lambda: writes_while_checking(crm))
        finally:
            api.close()
        assert answer.status_code == 201, answer.text
        assert_webhook_added(crm, url, "boss", "api POST /api/v1/webhooks")


def watch_host_checks(monkeypatch, crm, starting=lambda: None) -> list:
    """The write transaction open (None: none) in the thread of each check of a webhook's
    destination from now on (``crmkit.webhooks.check_destination``, which resolves its host);
    ``starting()`` is called as each starts."""
    import crmkit.webhooks

    seen, check = [], crmkit.webhooks.check_destination

    def watched(*args, **kwargs):
        seen.append(crm.current_transaction())
        starting()
        return check(*args, **kwargs)

    monkeypatch.setattr(crmkit.webhooks, "check_destination", watched)
    return seen


def test_a_webhook_post_with_an_idempotency_key_resolves_its_host_in_no_transaction(
        crm_url, clock, slow_resolver, monkeypatch):
    """An Idempotency-Key leaves POST /api/v1/webhooks resolving the host before its write
    transaction opens (on SQLite, one writer at a time, another writer completes while the
    lookup waits); the key is stored with the webhook.  A retry gets the first answer and
    neither resolves nor writes anything; the key with another body is a 422."""
    url = "https://hooks.example.test/in"
    key = {"Idempotency-Key": "add-hook-1"}
    with slowly_checked_campaigns(crm_url, clock) as crm:
        checked_in = watch_host_checks(monkeypatch, crm)
        api = InProcess(crm)
        try:
            client = api.client(api.token("boss", role="manager"))
            first = slow_resolver("hooks.example.test").while_held(
                lambda: client.post("/api/v1/webhooks", json={**HOOK, "url": url}, headers=key),
                lambda: writes_while_checking(crm))
            again = client.post("/api/v1/webhooks", json={**HOOK, "url": url}, headers=key)
            other = client.post("/api/v1/webhooks", headers=key, json={
                **HOOK, "url": url, "secret": "another-secret-0123456789"})
        finally:
            api.close()
        assert first.status_code == 201, first.text
        assert checked_in == [None]
        assert (again.status_code, again.json(), again.headers["location"],
                again.headers["idempotent-replayed"]) == (201, first.json(),
                                                          "/api/v1/webhooks/1", "true")
        assert problem(other, 422)["errors"] == [{
            "header": "Idempotency-Key",
            "detail": "was used for a different request (method, path, query or body); use a "
                      "new key for a new request"}]
        assert [hook.url for hook in crm.webhooks.list()] == [url]
        (entry,) = AuditLog(crm).list(action="create", table="webhooks")
        assert (entry.actor, entry.command) == ("boss", "api POST /api/v1/webhooks")


def test_a_webhook_post_with_an_idempotency_key_checks_again_in_no_transaction(
        crm_url, clock, slow_resolver, monkeypatch):
    """With an Idempotency-Key, the core config's webhooks settings changed while the host was
    resolved (networks narrowed) make POST /api/v1/webhooks check the host again, again in no
    write transaction; refused then, it stores neither the webhook nor the key."""
    url = "https://hooks.example.test/in"
    with slowly_checked_campaigns(crm_url, clock) as crm:
        core_webhooks(crm, allowed_networks=["10.0.0.0/8"])
        checked_in = watch_host_checks(monkeypatch, crm)
        api = InProcess(crm)
        try:
            client = api.client(api.token("boss", role="manager"))
            answer = slow_resolver("hooks.example.test", address="10.1.2.3").while_held(
                lambda: client.post("/api/v1/webhooks", json={**HOOK, "url": url},
                                    headers={"Idempotency-Key": "add-hook-3"}),
                lambda: core_webhooks(crm, allowed_networks=[]))
        finally:
            api.close()
        (error,) = problem(answer, 422)["errors"]
        assert error["pointer"] == "/url" and error["detail"].startswith(
            "'hooks.example.test' resolves to 10.1.2.3, a private address: "), error
        assert checked_in == [None, None]
        assert crm.webhooks.list(include_removed=True) == []
        with crm.read() as conn:
            assert conn.execute(select(func.count()).select_from(idempotency_keys)).scalar() == 0


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_a_webhook_post_with_an_idempotency_key_aborted_by_postgresql_runs_again(
        crm_url, clock, slow_resolver, monkeypatch):
    """With an Idempotency-Key, a POST /api/v1/webhooks whose transaction PostgreSQL aborts
    for a concurrent one (a serialisation failure, forced here once as the key is stored)
    runs again from the host's check, again in no write transaction: one webhook and one key
    are stored, and a retry gets that answer."""
    hook = {**HOOK, "url": "https://hooks.example.test/in"}
    key = {"Idempotency-Key": "add-hook-4"}
    slow_resolver("hooks.example.test")  # answers at once
    with slowly_checked_campaigns(crm_url, clock) as crm:
        checked_in = watch_host_checks(monkeypatch, crm)
        api = InProcess(crm)
        client = api.client(api.token("boss", role="manager"))
        with serialisation_failure_once(crm.engine, "INSERT INTO idempotency_keys") as aborted:
            first = client.post("/api/v1/webhooks", json=hook, headers=key)
        try:
            again = client.post("/api/v1/webhooks", json=hook, headers=key)
        finally:
            api.close()
        assert first.status_code == 201, first.text
        assert len(aborted) == 1 and checked_in == [None, None]
        assert (again.json(), again.headers["idempotent-replayed"]) == (first.json(), "true")
        assert [h.url for h in crm.webhooks.list(include_removed=True)] == [hook["url"]]
        assert len(AuditLog(crm).list(action="create", table="webhooks")) == 1


def test_webhook_posts_racing_with_one_idempotency_key_add_one_webhook(crm_url, clock,
                                                                      slow_resolver,
                                                                      monkeypatch):
    """Two POST /api/v1/webhooks with one Idempotency-Key, sent together: both find no stored
    key and resolve the host at the same time, in no write transaction; one adds the webhook,
    the other is rolled back on the key and answered as the first (Idempotent-Replayed)."""
    url = "https://hooks.example.test/in"
    with slowly_checked_campaigns(crm_url, clock) as crm:
        checking = threading.Semaphore(0)
        checked_in = watch_host_checks(monkeypatch, crm, checking.release)
        resolver = slow_resolver("hooks.example.test")
        resolver.hold()
        api = InProcess(crm)
        try:
            client = api.client(api.token("boss", role="manager"))
            with ThreadPoolExecutor(2) as pool:
                sent = [pool.submit(client.post, "/api/v1/webhooks", json={**HOOK, "url": url},
                                    headers={"Idempotency-Key": "add-hook-2"})
                        for _ in range(2)]
                assert all(checking.acquire(timeout=10) for _ in sent)
                resolver.released.set()
                answers = [request.result() for request in sent]
        finally:
            api.close()
        assert [answer.status_code for answer in answers] == [201, 201]
        assert answers[0].json() == answers[1].json()
        assert sorted(answer.headers.get("idempotent-replayed", "") for answer in answers
                      ) == ["", "true"]
        assert checked_in == [None, None]
        assert [hook.url for hook in crm.webhooks.list(include_removed=True)] == [url]
        assert len(AuditLog(crm).list(action="create", table="webhooks")) == 1


def test_a_webhook_added_over_http_gets_what_is_written_over_http(served, clock, tmp_path,
                                                                   crm_url):
    """A real ``crmkit serve``, a real receiver and a real ``crmkit worker --once``."""
    import json
    import subprocess

    from crmkit import CRM
    from webhooks.support import (Receiver, allow_loopback, valid_delivery, worker_command,
                                  worker_env)

    with CRM.open(crm_url, clock=clock, create=True) as crm:
        allow_loopback(crm)
    server = served()
    admin = server.client(server.token("root", role="admin"))
    receiver = Receiver(tmp_path)
    try:
        added = admin.post("/api/v1/webhooks", json={**HOOK, "url": receiver.url})
        assert added.status_code == 201, added.text
        created = admin.post("/api/v1/customers", json={"external_id": "C1", "name": "Ada"})
        assert created.status_code == 201, created.text
        done = subprocess.run(worker_command("--once"), env=worker_env(server.crm_url,
                                                                       clock.now()),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        (request,) = receiver.log()
        assert valid_delivery(request, SECRET)
        body = json.loads(request["body"])
        assert (body["type"], body["customer"]) == ("customer.created", "C1")
        (row,) = admin.get("/api/v1/webhooks/deliveries").json()["items"]
        assert (row["delivery_id"], row["status"], row["last_status_code"]) == (
            request["headers"]["x-crmkit-delivery"], "delivered", 200)
    finally:
        receiver.stop()
