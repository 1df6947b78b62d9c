"""Webhooks delivered by a real ``crmkit worker`` process to a real receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from crmkit import CRM, FixedClock
from crmkit.tables import audit_log, webhook_deliveries, webhooks
from crmkit.webhooks import LEASE_MARGIN_SECONDS, sign

from .support import SECRET, T0, allow_loopback, core_webhooks, valid_delivery, wait_for


@pytest.fixture
def crm(crm_url):
    with CRM.open(crm_url, clock=FixedClock(T0), create=True) as instance:
        allow_loopback(instance)
        yield instance


def deliveries(crm) -> list[dict]:
    with crm.read() as conn:
        return [dict(r) for r in conn.execute(
            select(webhook_deliveries).order_by(webhook_deliveries.c.id)).mappings()]


def some_activity(crm, customers: int = 3) -> None:
    """``customers`` customers created, two of them merged, and one interaction each."""
    for n in range(customers):
        crm.customers.add(f"C{n}", f"Customer {n}", email=f"c{n}@example.com")
    crm.customers.merge("C0", "C1")
    crm.interactions.record_many([{"customer": f"C{n}", "kind": "visit", "occurred_at": T0}
                                  for n in range(customers) if n != 1])


def test_signature_known_answer():
    """RFC 4231 test case 2 (HMAC-SHA256 of "what do ya want for nothing?" keyed "Jefe")."""
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_a_captured_delivery_verifies_only_as_sent_and_only_while_fresh(crm, receiver):
    """The signature covers the timestamp (the CRM clock at the attempt), the delivery id,
    the event type and the body: a captured delivery replayed under a new delivery id, as
    another event type, with a new timestamp, or later than the tolerance, fails verify."""
    from crmkit.webhooks import SIGNATURE_TOLERANCE_SECONDS, verify
    from crmkit.worker import Worker

    hook = receiver()
    crm.webhooks.add(hook.url, ["customer.created"], SECRET)
    crm.customers.add("C1", "Ada")
    assert Worker(crm).drain() == 1
    (request,) = hook.log()
    headers, body = request["headers"], request["body"].encode("utf-8")
    sent = T0.timestamp()
    assert headers["x-crmkit-timestamp"] == str(int(sent))
    assert verify(SECRET, headers, body, now=sent)
    assert verify(SECRET, {k.upper(): v for k, v in headers.items()}, body,
                  now=sent - SIGNATURE_TOLERANCE_SECONDS)
    assert verify(SECRET, headers, body, tolerance_seconds=60, now=sent + 60)
    assert not verify(SECRET, headers, body, tolerance_seconds=60, now=sent + 61)
    assert not verify(SECRET, headers, body, now=sent + SIGNATURE_TOLERANCE_SECONDS + 1)
    assert not verify("another-secret-0123456789", headers, body, now=sent)
    assert not verify(SECRET, headers, body + b" ", now=sent)
    for name, value in [("x-crmkit-delivery", "3f1c0c56-0000-4000-8000-000000000000"),
                        ("x-crmkit-event", "customer.merged"),
                        ("x-crmkit-timestamp", str(int(sent) + 1)),
                        ("x-crmkit-timestamp", "soon")]:
        assert not verify(SECRET, {**headers, name: value}, body, now=sent), name
    without = {k: v for k, v in headers.items() if k != "x-crmkit-timestamp"}
    assert not verify(SECRET, without, body, now=sent)


def test_each_event_is_received_once_with_a_valid_signature(crm, receiver, worker):
    everything = receiver()
    merges = receiver()
    crm.webhooks.add(everything.url, ["customer.created", "customer.merged",
                                      "interaction.recorded"], SECRET)
    crm.webhooks.add(merges.url, ["customer.merged"], "another-secret-0123456789")
    some_activity(crm)
    queued = deliveries(crm)
    assert Counter(d["event_type"] for d in queued) == {
        "customer.created": 3, "customer.merged": 2, "interaction.recorded": 2}

    done = worker.run(T0)
    assert "handled 7 items (webhooks.deliver 7)" in done.stdout

    received = everything.log()
    assert Counter(r["headers"]["x-crmkit-event"] for r in received) == {
        "customer.created": 3, "customer.merged": 1, "interaction.recorded": 2}
    assert all(valid_delivery(r) for r in received)
    ids = [r["headers"]["x-crmkit-delivery"] for r in received]
    assert len(set(ids)) == len(ids) == 6
    by_id = {d["delivery_id"]: d for d in deliveries(crm)}
    assert set(ids) <= set(by_id)
    for request in received:
        body = json.loads(request["body"])
        assert body["type"] == request["headers"]["x-crmkit-event"]
        assert request["headers"]["content-type"] == "application/json"
    merged = next(json.loads(r["body"]) for r in received
                  if r["headers"]["x-crmkit-event"] == "customer.merged")
    assert merged["customer"] == "C0" and merged["payload"]["duplicate_external_id"] == "C1"
    visits = [json.loads(r["body"]) for r in received
              if r["headers"]["x-crmkit-event"] == "interaction.recorded"]
    assert sorted(v["customer"] for v in visits) == ["C0", "C2"]
    assert {v["payload"]["kind"] for v in visits} == {"visit"}

    (only_merge,) = merges.log()
    assert valid_delivery(only_merge, "another-secret-0123456789")
    assert json.loads(only_merge["body"]) == merged
    assert {d["status"] for d in deliveries(crm)} == {"delivered"}
    assert {d["attempts"] for d in deliveries(crm)} == {1}

    again = worker.run(T0 + dt.timedelta(days=1))
    assert "handled 0 items" in again.stdout
    assert len(everything.log()) == 6 and len(merges.log()) == 1


def test_a_receiver_failing_three_times_gets_it_on_the_fourth_try(crm, receiver, worker):
    flaky = receiver(fail=3)
    crm.webhooks.add(flaky.url, ["customer.created"], SECRET)
    crm.customers.add("C1", "Ada")
    (queued,) = deliveries(crm)

    base = crm.core_config["webhooks"]["backoff_base_seconds"]
    at = T0
    for attempt, wait in ((1, 1), (2, 2), (3, 4)):
        worker.run(at)
        (row,) = deliveries(crm)
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", attempt,
                                                                             500)
        assert row["last_error"] == "HTTP 500 Internal Server Error"
        assert row["next_attempt_at"] == at + dt.timedelta(seconds=base * wait)
        worker.run(row["next_attempt_at"] - dt.timedelta(seconds=1))  # not due yet: nothing sent
        assert len(flaky.log()) == attempt
        at = row["next_attempt_at"]
    worker.run(at)
    (row,) = deliveries(crm)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 4, 200)
    assert row["delivered_at"] == at and row["last_error"] is None
    received = flaky.log()
    assert len(received) == 4
    assert {r["headers"]["x-crmkit-delivery"] for r in received} == {queued["delivery_id"]}
    assert len({r["body"] for r in received}) == 1 and all(valid_delivery(r) for r in received)


def test_a_delivery_fails_after_max_attempts_and_unreachable_receivers_are_retried(crm, worker):
    config = dict(crm.core_config)
    config["webhooks"] = {**config["webhooks"], "max_attempts": 2, "backoff_base_seconds": 10}
    crm.plugins.configure_core(config)
    crm.webhooks.add("http://127.0.0.1:9/nothing-listens", ["customer.created"], SECRET)
    crm.customers.add("C1", "Ada")
    worker.run(T0)
    (row,) = deliveries(crm)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, None)
    assert row["last_error"].startswith("ConnectError")
    worker.run(T0 + dt.timedelta(seconds=10))
    (row,) = deliveries(crm)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert "handled 0 items" in worker.run(T0 + dt.timedelta(days=30)).stdout


def test_a_worker_killed_mid_delivery_and_restarted_loses_nothing(crm, receiver, worker):
    """The second request is held; the worker is SIGKILLed while it waits.  Restarted before
    its lease ran out it sends nothing; after, it sends everything it had claimed: the
    in-flight delivery a second time with the same delivery id and body, nothing else twice."""
    held = receiver(hold=2)
    crm.webhooks.add(held.url, ["customer.created", "customer.merged", "interaction.recorded"],
                     SECRET)
    some_activity(crm, customers=5)
    queued = deliveries(crm)
    assert len(queued) == 10

    process = worker.start(T0, "--once", "--batch-size", "10")
    wait_for(lambda: len(held.log()) >= 2, "the worker's second request")
    process.send_signal(signal.SIGKILL)
    process.wait()
    held.release()

    in_flight = held.log()[1]["headers"]["x-crmkit-delivery"]
    state = {d["delivery_id"]: d for d in deliveries(crm)}
    assert [d["status"] for d in state.values()].count("delivered") == 1
    assert state[in_flight]["status"] == "pending"

    assert "handled 0 items" in worker.run(T0).stdout  # still leased to the dead worker
    lease = dt.timedelta(seconds=crm.core_config["webhooks"]["timeout_seconds"] * 10
                         + LEASE_MARGIN_SECONDS)
    worker.run(T0 + lease)

    assert {d["status"] for d in deliveries(crm)} == {"delivered"}
    received = held.log()
    assert all(valid_delivery(r) for r in received)
    counts = Counter(r["headers"]["x-crmkit-delivery"] for r in received)
    assert set(counts) == {d["delivery_id"] for d in queued}
    assert {k: v for k, v in counts.items() if v > 1} == {in_flight: 2}
    bodies = {r["body"] for r in received if r["headers"]["x-crmkit-delivery"] == in_flight}
    assert len(bodies) == 1


def test_sigterm_stops_after_the_delivery_in_hand_and_hands_back_the_rest(crm, receiver,
                                                                          worker):
    held = receiver(hold=1)
    crm.webhooks.add(held.url, ["customer.created"], SECRET)
    for n in range(4):
        crm.customers.add(f"C{n}", f"Customer {n}")
    process = worker.start(T0, "--batch-size", "10", "--poll-seconds", "0.05")
    wait_for(lambda: len(held.log()) >= 1, "the worker's first request")
    process.send_signal(signal.SIGTERM)
    held.release()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "handled 1 item" in out
    assert len(held.log()) == 1
    first, *rest = deliveries(crm)
    assert first["status"] == "delivered"
    assert {(d["status"], d["attempts"], d["next_attempt_at"]) for d in rest} == {
        ("pending", 0, T0)}  # due at once for any worker, not after the lease


class DeadlineClock:
    """The deadlines' clock (crmkit.outbound.monotonic): each reading is 0.1 s after the
    one before, and the readings are counted, so a receiver can answer in step with them."""

    def __init__(self):
        self.readings = 0
        self.read = threading.Condition()

    def __call__(self) -> float:
        with self.read:
            self.readings += 1
            self.read.notify_all()
            return self.readings * 0.1


def trickling_receiver(clock: DeadlineClock, lines: int = 50) -> str:
    """The URL of a receiver (a thread) that answers its one request with a status line, then
    one header line each time the deadline clock was read again (so that each of the
    client's reads gets one line) and, after ``lines`` lines, a 200 with no body."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = server.accept()
        with server, connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, body = request.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += connection.recv(65536)
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                seen = clock.readings
                for n in range(lines):
                    with clock.read:  # in step with the client's reads; a client that never
                        clock.read.wait_for(lambda: clock.readings > seen, timeout=0.05)
                        seen = clock.readings  # reads the clock gets a line every 0.05 s
                    connection.sendall(b"X-Trickle: %d\r\n" % n)
                connection.sendall(b"Content-Length: 0\r\n\r\n")
            except ConnectionError:  # the client gave up
                pass

    threading.Thread(target=answer, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/slow"


def test_a_receiver_trickling_its_headers_fails_at_the_deadline_and_others_still_get_theirs(
        crm, receiver, monkeypatch):
    """timeout_seconds bounds the whole request, not each read: a receiver that sends one
    header line per read never lets a read time out, yet its delivery fails at the deadline
    and is retried later, and the next webhook's delivery is sent."""
    from crmkit import outbound
    from crmkit.webhooks import deliver_batch
    from crmkit.worker import WorkContext

    config = dict(crm.core_config)
    config["webhooks"] = {**config["webhooks"], "timeout_seconds": 1}
    crm.plugins.configure_core(config)
    clock = DeadlineClock()
    monkeypatch.setattr(outbound, "monotonic", clock)
    healthy = receiver()
    crm.webhooks.add(trickling_receiver(clock), ["customer.created"], SECRET)
    crm.webhooks.add(healthy.url, ["customer.created"], SECRET)
    crm.customers.add("C1", "Ada")

    assert deliver_batch(WorkContext(crm, "test", T0, 10)) == 2
    slow, fine = deliveries(crm)
    assert (slow["status"], slow["attempts"], slow["last_status_code"]) == ("pending", 1, None)
    assert slow["last_error"] == ("ReadTimeout: no complete answer within 1 s "
                                  "(webhooks.timeout_seconds)")
    base = crm.core_config["webhooks"]["backoff_base_seconds"]
    assert slow["next_attempt_at"] == T0 + dt.timedelta(seconds=base)
    assert (fine["status"], fine["last_status_code"]) == ("delivered", 200)
    assert len(healthy.log()) == 1


def test_a_host_name_resolved_too_slowly_fails_at_the_deadline(crm, slow_resolver):
    """Resolving the receiver's name is part of the request the deadline bounds: a resolver
    that does not answer fails the attempt at the deadline (the lookup is left to finish in
    the background)."""
    from crmkit.webhooks import deliver_batch
    from crmkit.worker import WorkContext

    config = dict(crm.core_config)
    config["webhooks"] = {**config["webhooks"], "timeout_seconds": 0.5}
    crm.plugins.configure_core(config)
    resolver = slow_resolver("hooks.example.test")
    crm.webhooks.add("http://hooks.example.test/hook", ["customer.created"], SECRET)
    crm.customers.add("C1", "Ada")
    resolver.hold()
    assert deliver_batch(WorkContext(crm, "test", T0, 10)) == 1
    (row,) = deliveries(crm)
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "pending", 1, "ConnectTimeout: no complete answer within 0.5 s "
                      "(webhooks.timeout_seconds)")


def test_a_webhook_whose_host_name_resolves_too_slowly_is_refused_and_not_stored(
        crm, slow_resolver):
    """Adding a webhook checks where its host's name leads within webhooks.timeout_seconds:
    a resolver that does not answer makes the add fail then, saying so, while the lookup
    still waits, and nothing is stored."""
    from crmkit.errors import ValidationError

    config = dict(crm.core_config)
    config["webhooks"] = {**config["webhooks"], "timeout_seconds": 0.05}
    crm.plugins.configure_core(config)
    slow_resolver("hooks.example.test").hold()
    detail = ("resolving 'hooks.example.test' took longer than 0.05 s (core config "
              "webhooks.timeout_seconds; allowed: a host whose name resolves within it, or an "
              "address)")
    with pytest.raises(ValidationError) as refused:
        crm.webhooks.add("http://hooks.example.test/hook", ["customer.created"], SECRET)
    assert (str(refused.value), refused.value.problems) == (
        f"webhook url: {detail}", [("webhook", "url", detail)])
    assert crm.webhooks.list(include_removed=True) == []


def test_an_address_no_longer_allowed_when_connecting_is_a_failed_attempt(crm, receiver,
                                                                         slow_resolver):
    """The destination is checked again at each connection: a host whose DNS answer changed,
    since the webhook was added, to an address not allowed gets nothing, and the attempt
    says why."""
    from crmkit.webhooks import deliver_batch
    from crmkit.worker import WorkContext

    hook = receiver()
    resolver = slow_resolver("receiver.example.test")
    core_webhooks(crm, allowed_networks=["10.0.0.0/8"])
    crm.webhooks.add(hook.url.replace("127.0.0.1", "receiver.example.test"),
                     ["customer.created"], SECRET)
    crm.customers.add("C1", "Ada")
    resolver.resolve_to("127.0.0.1")

    assert deliver_batch(WorkContext(crm, "test", T0, 10)) == 1
    (row,) = deliveries(crm)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, None)
    assert row["last_error"] == (
        "DestinationRefused: 'receiver.example.test' resolves to 127.0.0.1, a loopback "
        "address: webhooks may target it only when core config webhooks.allowed_networks "
        "lists it (now: 10.0.0.0/8)")
    assert hook.log() == []


LOOPBACK_RULE = ("a loopback address: webhooks may target it only when core config "
                 "webhooks.allowed_networks lists it (now: {})")


def test_narrowing_the_allowed_networks_is_refused_while_a_webhook_needs_them(
        crm, slow_resolver, run_cli):
    """Narrowing the core config webhooks.allowed_networks checks each active webhook again
    (host names resolved again): while one would be refused, the change is one error naming
    each such webhook and the setting, from the API and the CLI, and nothing changes; once
    they are removed it goes through."""
    from crmkit.errors import ConfigError

    slow_resolver("internal.example.test", address="127.0.0.1")
    slow_resolver("hooks.example.test")
    direct = crm.webhooks.add("http://127.0.0.1:9/hook", ["customer.created"], SECRET)
    named = crm.webhooks.add("http://internal.example.test/hook", ["customer.created"], SECRET)
    crm.webhooks.add("https://hooks.example.test/hook", ["customer.created"], SECRET)
    before = crm.core_config
    rule = LOOPBACK_RULE.format("10.0.0.0/8")
    detail = (f"it would refuse webhook {direct.id} (http://127.0.0.1:9/hook): 127.0.0.1 is "
              f"{rule}; webhook {named.id} (http://internal.example.test/hook): "
              f"'internal.example.test' resolves to 127.0.0.1, {rule}; remove them first "
              "(crmkit webhooks remove ID) or keep the network listed")
    with pytest.raises(ConfigError) as refused:
        core_webhooks(crm, allowed_networks=["10.0.0.0/8"])
    assert (str(refused.value), refused.value.problems) == (
        f"core config /webhooks/allowed_networks: {detail}",
        [("/webhooks/allowed_networks", detail)])
    code, out, err = run_cli("config", "--set", 'webhooks.allowed_networks=["10.0.0.0/8"]')
    assert (code, out, err) == (1, "", f"error: core config /webhooks/allowed_networks: {detail}\n")
    with CRM.open(crm.url) as other:
        assert other.core_config == before
    crm.webhooks.remove(direct.id)
    crm.webhooks.remove(named.id)
    core_webhooks(crm, allowed_networks=["10.0.0.0/8"])
    assert crm.core_config["webhooks"]["allowed_networks"] == ["10.0.0.0/8"]


def test_a_webhook_is_checked_against_the_core_config_another_process_stored(crm):
    """A running CRM (a server) checks a webhook it adds against the core configuration as
    stored now, not as it last read it: once another process (the CLI) narrowed the allowed
    networks, a loopback URL is refused and nothing is stored; once it widened them again,
    the URL is added."""
    from crmkit.errors import ValidationError

    with CRM.open(crm.url) as cli:
        core_webhooks(cli, allowed_networks=[])
    with pytest.raises(ValidationError) as refused:
        crm.webhooks.add("http://127.0.0.1:9/hook", ["customer.created"], SECRET)
    assert refused.value.problems == [
        ("webhook", "url", f"127.0.0.1 is {LOOPBACK_RULE.format('none')}")]
    assert crm.webhooks.list(include_removed=True) == []
    with CRM.open(crm.url) as cli:
        core_webhooks(cli, allowed_networks=["127.0.0.0/8"])
    assert crm.webhooks.add("http://127.0.0.1:9/hook", ["customer.created"],
                            SECRET).url == "http://127.0.0.1:9/hook"


def test_networks_narrowed_while_a_webhook_s_host_is_resolved_are_checked_against(
        crm, slow_resolver):
    """Another process narrowing the allowed networks while an add waits on the webhook's
    host name: the add checks the URL again against them before it writes, and refuses it."""
    from crmkit.errors import ValidationError

    with CRM.open(crm.url) as cli, pytest.raises(ValidationError) as refused:
        slow_resolver("internal.example.test", address="127.0.0.1").while_held(
            lambda: crm.webhooks.add("http://internal.example.test/hook", ["customer.created"],
                                     SECRET),
            lambda: core_webhooks(cli, allowed_networks=[]))
    assert refused.value.problems == [
        ("webhook", "url", f"'internal.example.test' resolves to 127.0.0.1, "
                           f"{LOOPBACK_RULE.format('none')}")]
    assert crm.webhooks.list(include_removed=True) == []


def test_a_webhook_added_while_a_narrowing_is_checked_is_checked_too(crm, slow_resolver):
    """Narrowing the allowed networks waits on no writer: while it resolves a webhook's host
    name, another process adds a webhook the narrowed networks refuse; the narrowing checks
    again before it is written, and is refused naming that webhook."""
    from crmkit.errors import ConfigError

    resolver = slow_resolver("hooks.example.test")
    crm.webhooks.add("https://hooks.example.test/hook", ["customer.created"], SECRET)
    added = []
    with CRM.open(crm.url) as cli, pytest.raises(ConfigError) as refused:
        resolver.while_held(
            lambda: core_webhooks(crm, allowed_networks=["10.0.0.0/8"]),
            lambda: added.append(cli.webhooks.add("http://127.0.0.1:9/hook",
                                                  ["customer.created"], SECRET)))
    detail = (f"it would refuse webhook {added[0].id} (http://127.0.0.1:9/hook): 127.0.0.1 is "
              f"{LOOPBACK_RULE.format('10.0.0.0/8')}; remove it first (crmkit webhooks remove "
              "ID) or keep the network listed")
    assert refused.value.problems == [("/webhooks/allowed_networks", detail)]
    assert crm.core_config["webhooks"]["allowed_networks"] == ["127.0.0.1/32"]


def test_a_user_and_password_in_the_url_authenticate_and_are_never_shown(crm, receiver,
                                                                          run_cli):
    from crmkit.worker import Worker

    hook = receiver()
    url = hook.url.replace("http://", "http://crm:pa%40ss@")
    added = crm.webhooks.add(url, ["customer.created"], SECRET)
    assert added.url == hook.url.replace("http://", "http://***@")
    crm.customers.add("C1", "Ada")
    assert Worker(crm).drain() == 1
    (request,) = hook.log()
    assert request["headers"]["authorization"] == "Basic Y3JtOnBhQHNz"  # crm:pa@ss
    code, out, err = run_cli("webhooks", "list", "--format", "json")
    with crm.read() as conn:
        changes = conn.execute(select(audit_log.c.changes)
                               .where(audit_log.c.table_name == "webhooks")).scalars().all()
    shown = out + json.dumps(changes, default=str)
    assert code == 0 and "***@127.0.0.1" in out and "pa%40ss" not in shown, err


def test_allowed_networks_must_be_networks(crm):
    from crmkit.errors import ConfigError

    config = dict(crm.core_config)
    config["webhooks"] = {**config["webhooks"], "allowed_networks": ["10.0.0.0/8", "10.1/33"]}
    with pytest.raises(ConfigError, match=r"^core config /webhooks/allowed_networks/1: "
                                          r"'10.1/33' is not a network \(allowed: "):
        crm.plugins.configure_core(config)
    assert crm.core_config["webhooks"]["allowed_networks"] == ["127.0.0.1/32"]


ON_POSTGRESQL = pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)


@pytest.mark.postgres
@ON_POSTGRESQL
def test_two_workers_at_once_on_postgresql_deliver_each_event_once(crm, receiver, worker):
    config = dict(crm.core_config)  # the held request must not time out, however slow the
    config["webhooks"] = {**config["webhooks"], "timeout_seconds": 300}  # second worker is
    crm.plugins.configure_core(config)
    held = receiver(hold=1)
    crm.webhooks.add(held.url, ["customer.created"], SECRET)
    crm.customers.add_many([{"external_id": f"C{n}", "name": f"Customer {n}"}
                            for n in range(40)])
    first = worker.start(T0, "--once", "--batch-size", "5")
    wait_for(lambda: len(held.log()) >= 1, "the first worker's first request")
    # while the first worker holds its batch, a second one delivers everything else
    second = worker.run(T0, "--batch-size", "5")
    assert "handled 35 items" in second.stdout
    held.release()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "handled 5 items" in out
    counts = Counter(r["headers"]["x-crmkit-delivery"] for r in held.log())
    assert len(counts) == 40 and set(counts.values()) == {1}
    assert {d["status"] for d in deliveries(crm)} == {"delivered"}


@pytest.mark.postgres
@ON_POSTGRESQL
def test_claims_skip_rows_another_worker_has_locked(crm, crm_url):
    """A claim neither waits for nor takes rows another transaction holds FOR UPDATE."""
    from crmkit.worker import WorkContext, claim_due

    crm.webhooks.add("http://127.0.0.1:9/x", ["customer.created"], SECRET)
    crm.customers.add_many([{"external_id": f"C{n}", "name": f"N{n}"} for n in range(6)])
    d = webhook_deliveries
    with CRM.open(crm_url, clock=FixedClock(T0)) as other, other.connect(write=True) as conn:
        with conn.begin():
            locked = conn.execute(select(d.c.id).order_by(d.c.id).limit(3)
                                  .with_for_update()).scalars().all()
            ctx = WorkContext(crm, "test", T0, 10)
            claimed = claim_due(ctx, d, lease=dt.timedelta(minutes=5),
                                where=[d.c.status == "pending"])
            assert sorted(r["id"] for r in claimed) == sorted(set(range(1, 7)) - set(locked))
            assert {r["next_attempt_at"] for r in claimed} == {T0 + dt.timedelta(minutes=5)}


# -- the outbox is written with the event, or not at all -----------------------------------------


def test_deliveries_are_written_in_the_events_transaction(crm):
    from crmkit.errors import ValidationError

    crm.webhooks.add("http://127.0.0.1:9/x", ["customer.created", "interaction.recorded"], SECRET)
    with pytest.raises(ValidationError):
        crm.interactions.record_many([{"customer": "nobody", "kind": "visit", "occurred_at": T0}])
    with pytest.raises(RuntimeError), crm.transaction():
        crm.customers.add("C9", "Rolled Back")
        raise RuntimeError("the command failed after the event")
    assert deliveries(crm) == []
    crm.customers.add("C1", "Ada")
    crm.interactions.record_many([{"customer": "C1", "kind": "visit", "occurred_at": T0}] * 3)
    assert Counter(d["event_type"] for d in deliveries(crm)) == {"customer.created": 1,
                                                                 "interaction.recorded": 3}


def test_a_removed_webhook_gets_nothing_more_and_keeps_its_log(crm, run_cli):
    hook = crm.webhooks.add("https://example.com/x", ["customer.created"], SECRET)
    crm.customers.add("C1", "Ada")
    code, out, err = run_cli("webhooks", "remove", str(hook.id))
    assert code == 0, err
    crm.customers.add("C2", "Bo")
    (row,) = deliveries(crm)
    assert (row["status"], row["last_error"]) == ("failed", "webhook removed before delivery")
    with crm.read() as conn:
        assert conn.execute(select(webhooks.c.secret, webhooks.c.active)).one() == ("", False)
    assert crm.webhooks.list() == [] and len(crm.webhooks.list(include_removed=True)) == 1
    code, out, err = run_cli("webhooks", "remove", str(hook.id))
    assert (code, err.strip()) == (1, f"error: webhook {hook.id} was already removed")


# -- the command line ------------------------------------------------------------------------------


def test_cli_add_list_and_deliveries_never_show_the_secret(crm, run_cli, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    code, out, err = run_cli("webhooks", "add", "https://example.com/hooks", "--events",
                             "customer.created, customer.merged", "--secret-env", "HOOK_SECRET")
    assert (code, out.strip()) == (0, "added webhook 1: https://example.com/hooks "
                                      "(customer.created, customer.merged)"), err
    code, out, err = run_cli("webhooks", "add", "http://127.0.0.1:8080/in", "--events",
                             "customer.created", input=SECRET + "\n")
    assert code == 0, err
    crm.customers.add("C1", "Ada")
    code, out, err = run_cli("webhooks", "list", "--format", "json")
    listed = json.loads(out)
    assert [(h["id"], h["events"], h["pending"]) for h in listed] == [
        (1, ["customer.created", "customer.merged"], 1), (2, ["customer.created"], 1)]
    code, out, err = run_cli("webhooks", "deliveries", "--status", "pending", "--format", "csv")
    assert code == 0 and out.count("customer.created") == 2
    with crm.read() as conn:
        changes = conn.execute(select(audit_log.c.changes, audit_log.c.command)
                               .where(audit_log.c.table_name == "webhooks")).all()
    shown = out + json.dumps(listed) + json.dumps([list(map(str, c)) for c in changes])
    assert len(changes) == 2 and SECRET not in shown


@pytest.mark.parametrize("args, env, stdin, message", [
    (["ftp://example.com/x", "--events", "customer.created", "--secret-env", "S"], SECRET, None,
     "error: webhook url: 'ftp://example.com/x' is not an http(s) URL (allowed: an absolute "
     "http:// or https:// URL with a host)"),
    (["https:///no-host", "--events", "customer.created", "--secret-env", "S"], SECRET, None,
     "error: webhook url: 'https:///no-host' has no host"),
    (["https://example.com/x", "--events", "customer.created,customer.craeted", "--secret-env",
      "S"], SECRET, None, "error: webhook events: unknown event type 'customer.craeted' "
     "(did you mean 'customer.created'?); allowed: the 9 types `crmkit events types` lists"),
    (["https://example.com/x", "--events", "customer.created", "--secret-env", "S"], "", None,
     "error: webhook secret: empty (give at least 16 characters"),
    (["https://example.com/x", "--events", "customer.created"], None, "\n",
     "error: webhook secret: empty (give at least 16 characters"),
    (["https://example.com/x", "--events", "customer.created", "--secret-env", "UNSET_VAR"],
     None, None, "error: webhook secret: environment variable UNSET_VAR is not set"),
    (["https://example.com/x", "--events", "customer.created", "--secret-env", "S"], "short",
     None, "error: webhook secret: 5 characters; at least 16"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(crm, run_cli, monkeypatch, args, env,
                                                         stdin, message):
    monkeypatch.delenv("UNSET_VAR", raising=False)
    if env is not None:
        monkeypatch.setenv("S", env)
    code, out, err = run_cli("webhooks", "add", *args, input=stdin)
    assert code == 1
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err
    with crm.read() as conn:
        assert conn.execute(select(func.count()).select_from(webhooks)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(audit_log).where(
            audit_log.c.table_name == "webhooks")).scalar() == 0


def test_what_erasure_removed_is_never_sent_afterwards(crm, receiver):
    """Bodies are built when sent, from the stored (and by now redacted) events."""
    from crmkit.worker import Worker

    hook = receiver()
    crm.webhooks.add(hook.url, ["customer.created", "customer.erased"], SECRET)
    crm.customers.add("ada@example.com", "Ada Lovelace", email="ada@example.com")
    crm.customers.erase("ada@example.com")
    assert Worker(crm).drain() == 2
    bodies = [json.loads(r["body"]) for r in hook.log()]
    assert [b["type"] for b in bodies] == ["customer.created", "customer.erased"]
    assert not any("ada@example.com" in r["body"] or "Lovelace" in r["body"]
                   for r in hook.log())
    new_id = bodies[1]["customer"]
    assert new_id.startswith("erased-") and bodies[0]["customer"] == new_id
    assert bodies[0]["payload"] == {"external_id": new_id}
