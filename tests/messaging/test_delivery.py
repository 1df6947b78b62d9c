"""The built-in channels against real servers: ``crmkit worker --once`` sends queued messages
to an SMTP server process (aiosmtpd) and to an HTTP receiver, on the CRM clock."""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import threading
from collections import Counter

import pytest

from crmkit import CRM
from crmkit.plugin import Outgoing
from webhooks.support import (DEADLINE_S, SECRET, T0, allow_loopback, core_webhooks,
                              valid_delivery, wait_for, worker_command, worker_env)

SENDER = "news@shop.example"
PUBLIC_URL = "https://crm.example.com"


@pytest.fixture
def crm(crm_url):
    from crmkit.clock import FixedClock

    with CRM.open(crm_url, clock=FixedClock(T0), create=True) as instance:
        instance.plugins.enable("campaigns")
        instance.plugins.configure_core({**instance.core_config, "public_url": PUBLIC_URL})
        yield instance


def use_smtp(crm, server, **settings) -> None:
    email = {"host": "127.0.0.1", "port": server.port, "sender": SENDER, **settings}
    crm.plugins.configure("campaigns", {**crm.plugin_config("campaigns"), "email": email})


def use_webhook(crm, url: str, monkeypatch) -> None:
    """The webhook channel posting to ``url``, signing with SECRET (in $HOOK_KEY)."""
    crm.plugins.configure("campaigns", {**crm.plugin_config("campaigns"),
                                        "webhook": {"url": url, "secret_env": "HOOK_KEY"}})
    monkeypatch.setenv("HOOK_KEY", SECRET)


def queue_emails(crm, count: int, start: int = 0, **extra) -> list[str]:
    for n in range(start, start + count):
        crm.customers.add(f"C{n}", f"Customer {n}", email=f"c{n}@example.com")
    return crm.messages.enqueue([
        Outgoing("email", f"c{n}@example.com", f"Hello {n}", subject=f"Offer {n}",
                 customer=f"C{n}", meta={"campaign": "spring"}, **extra)
        for n in range(start, start + count)])


def states(crm) -> dict[str, tuple[str, int, str | None]]:
    return {m.message_id: (m.status, m.attempts, m.error) for m in crm.messages.list(limit=None)}


def test_a_batch_goes_out_once_each_with_its_headers_and_a_rerun_sends_nothing(
        crm, smtp_server, worker):
    server = smtp_server()
    use_smtp(crm, server, connections=4)
    ids = queue_emails(crm, 40, html="<p>Hello</p>")
    done = worker.run(T0)
    assert "handled 40 items (messages.send 40)" in done.stdout
    log = server.log()
    assert sorted(m["headers"]["message-id"] for m in log) == sorted(ids)
    first = next(m for m in log if m["headers"]["message-id"] == ids[7])
    unsubscribe = crm.messages.unsubscribe_url(ids[7])
    assert first["mail_from"] == SENDER and first["rcpt_tos"] == ["c7@example.com"]
    assert {k: first["headers"][k] for k in ("from", "to", "subject", "list-unsubscribe",
                                             "list-unsubscribe-post", "date")} == {
        "from": SENDER, "to": "c7@example.com", "subject": "Offer 7",
        "list-unsubscribe": f"<{unsubscribe}>",
        "list-unsubscribe-post": "List-Unsubscribe=One-Click",
        "date": "Wed, 01 Jan 2025 12:00:00 +0000"}
    assert unsubscribe.startswith(f"{PUBLIC_URL}/t/u/")
    assert first["text"].splitlines() == ["Hello 7"]
    assert set(states(crm).values()) == {("sent", 1, None)}
    assert len(crm.events.list(type="message.sent")) == 40
    again = worker.run(T0 + dt.timedelta(days=1))
    assert "handled 0 items" in again.stdout
    assert server.count() == 40


def test_text_beyond_ascii_and_html_arrive_intact(crm, smtp_server, worker):
    server = smtp_server()
    use_smtp(crm, server)
    crm.customers.add("Z1", "Zoë", email="zoe@example.com")
    crm.messages.enqueue([Outgoing(
        "email", "zoe@example.com", "Bonjour Zoë,\n10 € de remise – 今日だけ", customer="Z1",
        subject="Prix spécial – 20 % 🎉", html="<p>Bonjour <b>Zoë</b> 🎉</p>",
        headers={"X-Campaign": "été", "Subject": "not this one"})])
    worker.run(T0)
    (mail,) = server.log()
    assert (mail["headers"]["subject"], mail["headers"]["x-campaign"]) == (
        "Prix spécial – 20 % 🎉", "été")
    assert mail["text"].splitlines() == ["Bonjour Zoë,", "10 € de remise – 今日だけ"]
    assert mail["html"].strip() == "<p>Bonjour <b>Zoë</b> 🎉</p>"
    assert mail["headers"]["content-type"].startswith("multipart/alternative")


def test_starttls_and_auth_with_the_password_from_the_environment(
        crm, smtp_server, worker, tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = smtp_server("--tls", str(cert), str(key), "--auth", "mailer:s3cret-pass")
    use_smtp(crm, server, starttls=True, username="mailer", password_env="CRM_SMTP_PASSWORD")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the worker trusts the test certificate
    monkeypatch.setenv("CRM_SMTP_PASSWORD", "wrong")
    (message_id,) = queue_emails(crm, 1)
    worker.run(T0)
    status, attempts, error = states(crm)[message_id]
    assert (status, attempts) == ("queued", 1)
    assert error.startswith(f"SMTP server 127.0.0.1:{server.port} answered 535 ")
    monkeypatch.setenv("CRM_SMTP_PASSWORD", "s3cret-pass")
    worker.run(T0 + dt.timedelta(minutes=5))
    assert states(crm)[message_id] == ("sent", 2, None)
    assert [m["headers"]["message-id"] for m in server.log()] == [message_id]
    assert "s3cret-pass" not in json.dumps(crm.plugin_config("campaigns"))


def test_a_killed_worker_restarted_loses_nothing_and_resends_only_the_held_message(
        crm, smtp_server, worker):
    """The 4th message is held by the server (received, not yet answered); the worker is
    SIGKILLed while it waits.  Restarted before its lease has run out it sends nothing;
    after, it sends the rest: only the held message arrives twice, with its Message-ID."""
    server = smtp_server("--hold", "4")
    use_smtp(crm, server, connections=1)
    ids = queue_emails(crm, 8)
    process = worker.start(T0, "--once")
    wait_for(lambda: server.count() == 4, "the 4th message to be held")
    wait_for(lambda: [s for s, _, _ in states(crm).values()].count("sent") == 3,
             "the three answered messages to be recorded")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=DEADLINE_S)
    server.release()
    assert "handled 0 items" in worker.run(T0 + dt.timedelta(minutes=14)).stdout
    lease = dt.timedelta(seconds=crm.core_config["messages"]["lease_seconds"])
    assert "handled 5 items" in worker.run(T0 + lease).stdout
    received = [m["headers"]["message-id"] for m in server.log()]
    assert received == ids[:4] + ids[3:]
    assert {i: s for i, (s, _, _) in states(crm).items()} == dict.fromkeys(ids, "sent")
    assert [states(crm)[i][1] for i in ids] == [1, 1, 1, 2, 2, 2, 2, 2]


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_two_workers_at_once_on_postgresql_send_each_message_once(crm, smtp_server, worker):
    """The server holds the first message; while the first worker waits for its answer, a
    second worker sends every other batch."""
    server = smtp_server("--hold", "1")
    use_smtp(crm, server, connections=1)
    ids = queue_emails(crm, 30)
    first = worker.start(T0, "--once", "--batch-size", "5")
    wait_for(lambda: server.count() >= 1, "the first worker's first message")
    second = worker.run(T0, "--batch-size", "5")
    assert "handled 25 items" in second.stdout
    server.release()
    out, err = first.communicate(timeout=DEADLINE_S)
    assert first.returncode == 0, err
    assert "handled 5 items" in out
    counts = Counter(m["headers"]["message-id"] for m in server.log())
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    assert {s for s, _, _ in states(crm).values()} == {"sent"}


def test_refusals_are_recorded_bounced_failed_or_retried_by_the_crm_clock(
        crm, smtp_server, worker):
    refusing = smtp_server("--data-code", "554", "--refuse", "c1@example.com")
    use_smtp(crm, refusing)
    refused, bounced = queue_emails(crm, 2)
    worker.run(T0)
    assert states(crm) == {refused: ("failed", 1, "message refused: 554 message refused"),
                           bounced: ("bounced", 1, "recipient c1@example.com refused: 550 "
                                                   "5.1.1 <c1@example.com>: no such mailbox")}
    assert [e.payload["error"] for e in crm.events.list(type="message.bounced")] == [
        states(crm)[bounced][2]]

    busy = smtp_server("--data-code", "451", "--data-count", "1")
    use_smtp(crm, busy)
    (later,) = queue_emails(crm, 1, start=2)
    worker.run(T0)
    assert states(crm)[later] == ("queued", 1, "message refused: 451 try again later")
    base = crm.core_config["messages"]["backoff_base_seconds"]
    assert "handled 0 items" in worker.run(T0 + dt.timedelta(seconds=base - 1)).stdout
    worker.run(T0 + dt.timedelta(seconds=base))
    assert states(crm)[later] == ("sent", 2, None)
    assert busy.count() == 2


def test_a_server_that_cannot_be_reached_is_retried_with_a_clear_detail(
        crm, smtp_server, worker):
    gone = smtp_server()
    use_smtp(crm, gone, connections=2)
    gone.stop()
    ids = queue_emails(crm, 3)
    worker.run(T0)
    detail = f"cannot reach SMTP server 127.0.0.1:{gone.port}: [Errno 111] Connection refused"
    assert states(crm) == dict.fromkeys(ids, ("queued", 1, detail))


def test_an_unconfigured_email_channel_is_one_error_and_nothing_is_lost(crm):
    queue_emails(crm, 2)
    done = subprocess.run(worker_command("--once"), env=worker_env(crm.url, T0),
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: job messages.send failed: channel 'email' failed: campaigns config email.host "
        "is not set: crmkit plugins config campaigns --set email.host=smtp.example.com")
    assert {s for s, _, _ in states(crm).values()} == {"queued"}


def test_the_webhook_channel_posts_json_signed_as_webhooks_are_and_retries_a_failing_receiver(
        crm, receiver, worker, monkeypatch):
    """Each message is signed as a core webhook delivery is (crmkit.webhooks.verify accepts
    it), over the attempt's timestamp and a delivery id that stays the same on a retry: a
    captured message sent again under another message's delivery id does not verify."""
    hook = receiver(fail=1)
    allow_loopback(crm)
    use_webhook(crm, hook.url, monkeypatch)
    crm.customers.add("C1", "Ada", email="ada@example.com")
    first, second = crm.messages.enqueue([
        Outgoing("webhook", "ada-handle", "Hi Ada", customer="C1", meta={"campaign": "x"}),
        Outgoing("webhook", "bob-handle", "Hi Bob")])
    worker.run(T0)
    assert states(crm) == {first: ("queued", 1, f"POST {hook.url}: HTTP 500 Internal Server "
                                                "Error"),
                           second: ("sent", 1, None)}
    later = T0 + dt.timedelta(minutes=5)
    worker.run(later)
    assert states(crm)[first] == ("sent", 2, None)
    log = hook.log()
    assert [r["headers"]["x-crmkit-message-id"] for r in log] == [first, second, first]
    assert all(valid_delivery(r) for r in log)
    headers = [r["headers"] for r in log]
    assert [h["x-crmkit-timestamp"] for h in headers] == [
        str(int(T0.timestamp()))] * 2 + [str(int(later.timestamp()))]
    assert {h["x-crmkit-event"] for h in headers} == {"message"}
    deliveries = [h["x-crmkit-delivery"] for h in headers]
    assert deliveries[0] == deliveries[2] != deliveries[1]
    replayed = {**log[2], "headers": {**headers[2], "x-crmkit-delivery": deliveries[1]}}
    assert not valid_delivery(replayed)
    assert json.loads(log[2]["body"]) == {
        "message_id": first, "recipient": "ada-handle", "customer": "C1", "subject": None,
        "body": "Hi Ada", "html": None, "headers": {}, "meta": {"campaign": "x"}}


def test_a_failed_webhook_message_s_error_shows_no_credentials_of_the_url(
        crm, receiver, worker, monkeypatch):
    hook = receiver(fail=1)
    allow_loopback(crm)
    use_webhook(crm, hook.url.replace("://", "://crm:s3cret@"), monkeypatch)
    (message_id,) = crm.messages.enqueue([Outgoing("webhook", "ada-handle", "Hi Ada")])
    worker.run(T0)
    shown = hook.url.replace("://", "://***@")
    assert states(crm) == {message_id: (
        "queued", 1, f"POST {shown}: HTTP 500 Internal Server Error")}


def test_a_webhook_url_the_allowed_networks_no_longer_list_is_refused_when_connecting(
        crm, receiver, monkeypatch, slow_resolver):
    """The channel's destination is checked at each connection, as a core webhook's: once
    the URL's host resolves to an address the core config does not allow (its DNS answer
    changed since the URL was set), nothing reaches it and the attempt says why."""
    from crmkit.worker import Worker

    hook = receiver()
    resolver = slow_resolver("receiver.example.test")
    core_webhooks(crm, allowed_networks=["10.0.0.0/8"])
    url = hook.url.replace("127.0.0.1", "receiver.example.test")
    use_webhook(crm, url, monkeypatch)
    (message_id,) = crm.messages.enqueue([Outgoing("webhook", "ada-handle", "Hi Ada")])
    resolver.resolve_to("127.0.0.1")
    runner = Worker(crm)
    assert runner.drain() == 1 and runner.errors == []
    assert states(crm) == {message_id: (
        "queued", 1, f"POST {url}: DestinationRefused: 'receiver.example.test' resolves to "
                     "127.0.0.1, a loopback address: webhooks may target it only when core "
                     "config webhooks.allowed_networks lists it (now: 10.0.0.0/8)")}
    assert hook.log() == []


@pytest.fixture
def trickling_smtp():
    """``trickling_smtp(stage)``: the port of an SMTP server (a thread) for one connection
    that answers at once, except its reply at ``stage`` (``"greeting"``, or ``"data"``: its
    answer to a message), which it sends one byte every 0.1 s: 5 s for the whole reply, so
    no single read of it ever waits long."""
    stop = threading.Event()

    def start(stage: str) -> int:
        server = socket.create_server(("127.0.0.1", 0))

        def say(connection, reply: bytes, slowly: bool) -> None:
            if not slowly:
                connection.sendall(reply)
                return
            for byte in reply:
                if stop.wait(0.1):  # the trickle; the test ends sooner
                    return
                connection.sendall(bytes([byte]))

        def serve() -> None:
            connection, _ = server.accept()
            with server, connection, connection.makefile("rb") as lines:
                try:
                    say(connection, b"220 " + b"." * 44 + b"\r\n", stage == "greeting")
                    for line in lines:
                        command = line[:4].upper()
                        if command == b"DATA":
                            connection.sendall(b"354 go ahead\r\n")
                            while next(lines) != b".\r\n":
                                pass
                            say(connection, b"250 " + b"." * 44 + b"\r\n", stage == "data")
                        elif command == b"QUIT":
                            connection.sendall(b"221 bye\r\n")
                            return
                        else:
                            connection.sendall(b"250 ok\r\n")
                except OSError:  # the client gave up
                    pass

        threading.Thread(target=serve, daemon=True).start()
        return server.getsockname()[1]

    yield start
    stop.set()


@pytest.mark.parametrize("stage", ["greeting", "data"])
def test_an_smtp_server_trickling_its_reply_fails_the_message_at_the_deadline(
        crm, trickling_smtp, stage):
    """email.timeout_seconds bounds a whole delivery (connecting, then the message's
    conversation), not each read: a server that sends its reply a byte at a time never lets
    a read time out, yet the message is retried at the deadline, and the connection's other
    message with it, without waiting again."""
    from crmkit.worker import Worker

    port = trickling_smtp(stage)
    crm.plugins.configure("campaigns", {**crm.plugin_config("campaigns"), "email": {
        "host": "127.0.0.1", "port": port, "sender": SENDER, "connections": 1,
        "timeout_seconds": 0.5}})
    ids = queue_emails(crm, 2)
    runner = Worker(crm)
    assert runner.drain() == 2 and runner.errors == []
    detail = (f"no complete answer from SMTP server 127.0.0.1:{port} within 0.5 s "
              "(email.timeout_seconds)")
    assert states(crm) == dict.fromkeys(ids, ("queued", 1, detail))


def test_ehlo_gives_the_configured_name_or_the_host_name_and_never_looks_it_up_in_dns(
        crm, smtp_server, monkeypatch):
    """smtplib finds the name it says EHLO with by a reverse DNS lookup (socket.getfqdn)
    unless given one, and that lookup no deadline bounds: the channel always gives one,
    email.local_hostname or else this machine's host name, so no lookup is made."""
    from crmkit.worker import Worker

    def no_lookup(*_args):
        raise AssertionError("socket.getfqdn() was called")

    monkeypatch.setattr(socket, "getfqdn", no_lookup)
    server = smtp_server()
    use_smtp(crm, server)
    first = queue_emails(crm, 1)
    runner = Worker(crm)
    assert runner.drain() == 1 and runner.errors == []
    use_smtp(crm, server, local_hostname="mail.shop.example")
    second = queue_emails(crm, 1, start=1)
    assert runner.drain() == 1 and runner.errors == []
    assert states(crm) == dict.fromkeys(first + second, ("sent", 1, None))
    assert [m["ehlo"] for m in server.log()] == [socket.gethostname(), "mail.shop.example"]


def test_local_hostname_is_a_domain_name_or_an_address_literal(crm):
    """Anything else (a line break would end the EHLO command early) is refused at
    email.local_hostname and the stored configuration stays as it was."""
    from crmkit.errors import ConfigError

    for name in ["mail.shop.example", "[192.0.2.7]", "[IPv6:2001:db8::7]"]:
        crm.plugins.configure("campaigns", {"email": {"local_hostname": name}})
        assert crm.plugin_config("campaigns")["email"]["local_hostname"] == name
    before = crm.plugin_config("campaigns")
    for name in ["mail.shop.example\n", "mail.shop.example\r\nRSET", "bad_name.example", "",
                 "[not-an-address]"]:
        with pytest.raises(ConfigError, match=r"^plugin 'campaigns' config: "
                                              r"/email/local_hostname: "):
            crm.plugins.configure("campaigns", {"email": {"local_hostname": name}})
        assert crm.plugin_config("campaigns") == before


@pytest.mark.parametrize("channel", ["email", "webhook"])
def test_a_channel_starts_no_message_the_worker_stopped_waiting_for(
        crm, smtp_server, receiver, monkeypatch, channel):
    """Once a batch's lease has run out the worker has recorded its unreported messages as
    retries: a built-in channel that gets to one then sends it not, or it would go out
    twice."""
    from crmkit.plugin import Deadline, Sending

    server, hook = smtp_server(), receiver()
    use_smtp(crm, server)
    allow_loopback(crm)
    use_webhook(crm, hook.url, monkeypatch)
    running, over = Deadline(), Deadline()
    running.start(600)
    over.start(0)
    batch = [Sending(f"<m{n}@shop.example>", f"c{n}@example.com", "Offer", "Hello", None, {},
                     {}, None, 1, lease) for n, lease in enumerate([running, over])]
    results = {r.message_id: r for r in crm.messages.channels()[channel].send(batch)}
    assert {m: r.outcome for m, r in results.items()} == {"<m0@shop.example>": "sent",
                                                          "<m1@shop.example>": "retry"}
    assert results["<m1@shop.example>"].detail == (
        "not started: the worker stopped waiting for it (messages.lease_seconds)")
    arrived = server.log() if channel == "email" else hook.log()
    assert len(arrived) == 1
