"""The issue's "must show" list against a real ``crmkit serve`` process on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import signal
import socket

import pytest
from sqlalchemy import func, select

from crmkit import tables


def snapshot(server) -> dict[str, int]:
    """Row counts of the tables a request could write."""
    with server.open() as crm, crm.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in (tables.customers, tables.interactions, tables.audit_log,
                          tables.events, tables.idempotency_keys)}


def test_authentication_roles_masking_and_audit(served, clock):
    server = served()
    agent = server.token("ann", role="agent")
    viewer = server.token("vic", role="viewer")

    assert server.client().get("/api/v1/customers").status_code == 401
    created = server.client(agent).post("/api/v1/customers", json={
        "external_id": "C1", "name": "Ada Lovelace", "email": "ada@example.com",
        "phone": "+44 20 7946 0000", "tags": ["vip"]})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "ada@example.com"
    assert created.headers["location"] == "/api/v1/customers/C1"
    with server.open() as crm, crm.read() as conn:
        audited = conn.execute(select(tables.audit_log.c.actor, tables.audit_log.c.command)
                               .where(tables.audit_log.c.record_key == "C1")).all()
    assert audited == [("ann", "api POST /api/v1/customers")]

    seen = server.client(viewer).get("/api/v1/customers/C1")
    assert seen.status_code == 200
    assert {k: seen.json()[k] for k in ("external_id", "name", "email", "phone", "tags")} == {
        "external_id": "C1", "name": "***", "email": "***", "phone": "***", "tags": ["vip"]}
    listed = server.client(viewer).get("/api/v1/customers", params={"q": "vip"}).json()
    assert [(c["external_id"], c["email"]) for c in listed["items"]] == [("C1", "***")]
    by_name = server.client(viewer).get("/api/v1/customers", params={"q": "ada"}).json()
    assert by_name["items"] == []  # a viewer searches only what it sees: ids and tags

    before = snapshot(server)
    refused = server.client(viewer).post("/api/v1/customers", json={"external_id": "C2"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "customers.write" in refused.json()["detail"]
    assert snapshot(server) == before

    with server.open() as crm:
        token = crm.tokens.list("ann")[0]
        crm.tokens.revoke(token.id)
    revoked = server.client(agent).get("/api/v1/customers/C1")
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_an_expired_token_is_refused(served, clock):
    later = clock.now() + dt.timedelta(hours=2)
    server = served(now=later)
    expired = server.token("ann", expires_at=clock.now() + dt.timedelta(hours=1))
    fresh = server.token("bob", expires_at=clock.now() + dt.timedelta(hours=3))
    answer = server.client(expired).get("/api/v1/customers")
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    assert server.client(fresh).get("/api/v1/customers").status_code == 200


def test_idempotency_key_twice_and_concurrently_stores_one_interaction(served):
    server = served(workers=2)  # the racing requests may reach different processes
    agent = server.token("ann")
    client = server.client(agent)
    assert client.post("/api/v1/customers", json={"external_id": "C1"}).status_code == 201
    body = {"customer": "C1", "kind": "call", "occurred_at": "2024-12-01T10:00:00Z"}
    first = client.post("/api/v1/interactions", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/interactions", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post("/api/v1/interactions", json={**body, "kind": "visit"},
                        headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422
    assert other.json()["errors"][0]["header"] == "Idempotency-Key"

    def send(_):
        with server.client(agent) as racing:
            return racing.post("/api/v1/interactions", json=body,
                               headers={"Idempotency-Key": "k-2"})

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert snapshot(server)["interactions"] == 2


def test_a_stale_etag_is_refused_and_nothing_written(served):
    server = served()
    client = server.client(server.token("ann"))
    created = client.post("/api/v1/customers", json={"external_id": "C1", "name": "Ada"})
    tag = created.headers["etag"]
    assert client.get("/api/v1/customers/C1").headers["etag"] == tag
    changed = client.patch("/api/v1/customers/C1", json={"name": "Ada L."},
                           headers={"If-Match": tag})
    assert changed.status_code == 200 and changed.json()["name"] == "Ada L."
    assert changed.headers["etag"] != tag
    before = snapshot(server)
    stale = client.patch("/api/v1/customers/C1", json={"name": "Ada King"},
                         headers={"If-Match": tag})
    assert stale.status_code == 412
    assert "changed since the ETag" in stale.json()["detail"]
    assert client.get("/api/v1/customers/C1").json()["name"] == "Ada L."
    assert snapshot(server) == before


@pytest.mark.parametrize("send, status, fragment, where", [
    (dict(content=b'{"external_id": "C9",', headers={"Content-Type": "application/json"}),
     400, "not valid JSON", None),
    (dict(json={"external_id": "C9", "tags": "vip"}), 422, "'vip' is not of type 'array'",
     {"pointer": "/tags"}),
    (dict(json={"external_id": "C9", "nickname": "Bo"}), 422, "unknown key",
     {"pointer": "/nickname"}),
    (dict(json={"external_id": "C9", "email": "not-an-email"}), 422,
     "'not-an-email' is not an email address", {"pointer": "/email"}),
    (dict(json={"external_id": "C9", "name": "x" * 1_100_000}), 413, "larger than", None),
])
def test_bad_input_is_one_problem_and_writes_nothing(served, send, status, fragment, where):
    server = served()
    client = server.client(server.token("ann"))
    before = snapshot(server)
    answer = client.post("/api/v1/customers", **send)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status and fragment in problem["detail"]
    if where is not None:
        assert [{k: e[k] for k in where} for e in problem["errors"]] == [where]
    assert snapshot(server) == before


def test_a_condition_injection_in_q_is_plain_text(served):
    server = served()
    client = server.client(server.token("ann"))
    client.post("/api/v1/customers", json={"external_id": "C1", "name": "Ada"})
    before = snapshot(server)
    for q in ("' OR '1'='1", "%", "_", '{"field": "email", "op": "exists"}',
              "x'); DROP TABLE customers; --"):
        answer = client.get("/api/v1/customers", params={"q": q})
        assert answer.status_code == 200 and answer.json()["items"] == [], q
    refused = client.get("/api/v1/customers", params={"q": "Ada\x00' OR 1=1"})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["parameter"] == "q" and error["detail"].startswith(
        "contains a NUL character (U+0000)")
    assert client.get("/api/v1/customers", params={"q": "ada"}).json()["items"][0][
        "external_id"] == "C1"
    assert snapshot(server) == before


def test_sigterm_finishes_the_request_in_flight(served, tmp_path):
    server = served(plugins=["webtest"], local_plugins=["crmkit_webtest"])
    token = server.token("ann")
    started, release = tmp_path / "started", tmp_path / "release"
    os.mkfifo(started)
    os.mkfifo(release)

    def call():
        with server.client(token) as client:
            return client.post("/api/v1/webtest/wait",
                               json={"started": str(started), "release": str(release)})

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(call)
        with open(started) as fifo:  # returns once the handler runs
            assert fifo.read() == "in flight\n"
        server.process.send_signal(signal.SIGTERM)
        with open(release, "w") as fifo:
            fifo.write("done")
        response = answer.result(timeout=120)
    assert response.status_code == 200 and response.json() == {"released": "done"}
    # uvicorn ends by re-raising the SIGTERM it handled (newer versions) or exits 0 (older)
    assert server.process.wait(timeout=120) in (0, -signal.SIGTERM)
    assert "Traceback" not in server.log.read_text()


def test_an_unexpected_error_is_logged_with_its_traceback_and_never_sent(served):
    server = served(plugins=["webtest"], local_plugins=["crmkit_webtest"])
    with server.client(server.token("ann")) as client:
        answer = client.post("/api/v1/webtest/fail", json={"external_id": "W1"})
    assert answer.status_code == 500
    assert "secret" not in answer.text and "Traceback" not in answer.text
    log = server.log.read_text()
    assert "ERROR crmkit.web: internal error answering POST /api/v1/webtest/fail" in log
    assert "Traceback" in log and "RuntimeError: a bug with a secret detail" in log
    assert snapshot(server)["customers"] == 0


def test_threads_bound_the_requests_a_worker_answers_at_once(crm, crm_url, monkeypatch):
    """``crmkit serve --threads N`` reaches each worker through the environment and sizes the
    event loop's thread limiter (every request handler runs on it) when the app starts."""
    import anyio.to_thread
    from click.testing import CliRunner
    from starlette.testclient import TestClient

    from crmkit.cli import cli
    from crmkit.web.server import SERVER_THREADS, THREADS_VARIABLE, application

    def limiter_tokens() -> int:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    monkeypatch.setenv("CRMKIT_DATABASE_URL", crm_url)
    for given, expected in ((None, SERVER_THREADS), ("3", 3)):
        if given is None:
            monkeypatch.delenv(THREADS_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(THREADS_VARIABLE, given)
        with TestClient(application()) as client:
            assert client.get("/health").status_code == 200
            assert client.portal.call(limiter_tokens) == expected

    refused = CliRunner().invoke(cli, ["--db", crm_url, "serve", "--threads", "0"])
    assert refused.exit_code == 2
    assert "--threads" in refused.output and "x>=1" in refused.output


def test_serve_on_a_port_in_use_is_one_error_before_anything_starts(run_cli):
    """The server would announce its address, then fail to listen: the check comes first."""
    assert run_cli("init")[0] == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run_cli("serve", "--port", str(port))
    assert (code, out) == (1, "")
    assert err == (f"error: cannot listen on 127.0.0.1:{port} (Address already in use): give "
                   "another --port, or as --host an address of this machine\n")
