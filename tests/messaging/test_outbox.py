"""The core's outbox of messages (``crm.messages``) and the worker's ``messages.send`` job,
driven through an in-process test channel whose answers the test chooses."""

from __future__ import annotations

import re
import threading
import types

import pytest

import crmkit
from crmkit import CRM
from crmkit.errors import PluginError, ValidationError
from crmkit.plugin import Outgoing, SendResult, outgoing_problems
from crmkit.types import UNSTORABLE_TEXT
from crmkit.worker import Worker


class ScriptedChannel:
    """A channel that answers each message by its recipient: ``outcome@…`` (sent, retry,
    failed, bounced); ``boom@…`` makes ``send`` raise after the results before it."""

    name = "test"

    def __init__(self):
        self.sent: list[tuple[str, int]] = []

    def send(self, batch):
        for message in batch:
            self.sent.append((message.message_id, message.attempts))
            outcome = message.recipient.split("@")[0]
            if outcome == "boom":
                raise RuntimeError("the gateway hung up")
            yield SendResult(message.message_id, outcome, f"{outcome} by the test server")


def channel_plugin(channel, name: str = "testchannel") -> types.ModuleType:
    module = types.ModuleType(f"plugin_{name}")
    module.PLUGIN = crmkit.PluginInfo(name=name, description="a scripted channel")
    module.crmkit_channels = crmkit.hookimpl(lambda crm: [channel])
    return module


@pytest.fixture
def channel():
    return ScriptedChannel()


@pytest.fixture
def outbox(crm_url, clock, channel):
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"testchannel": channel_plugin(channel)}) as crm:
        crm.plugins.enable("testchannel")
        crm.customers.add("C1", "Ada Lovelace", email="ada@example.com")
        yield crm


def statuses(crm) -> dict[str, tuple[str, int, str | None]]:
    return {m.recipient: (m.status, m.attempts, m.error) for m in crm.messages.list()}


def test_enqueue_returns_message_ids_and_stores_each_message(outbox):
    ids = outbox.messages.enqueue([
        Outgoing("test", "sent@example.com", "Hello", subject="Hi", customer="C1",
                 headers={"X-Tag": "spring"}, meta={"campaign": "spring", "variant": "A"},
                 source="campaigns"),
        Outgoing("test", "sent@example.org", "Bye", message_id="<given-1@example.com>")])
    assert ids[1] == "<given-1@example.com>"
    assert ids[0].startswith("<") and ids[0].endswith("@crmkit.invalid>")
    first = outbox.messages.get(ids[0])
    assert (first.channel, first.customer, first.subject, first.headers, first.meta,
            first.source, first.status, first.attempts) == (
        "test", "C1", "Hi", {"X-Tag": "spring"}, {"campaign": "spring", "variant": "A"},
        "campaigns", "queued", 0)
    assert [m.message_id for m in outbox.messages.list(meta={"campaign": "spring"})] == ids[:1]


def test_enqueue_joins_the_callers_transaction(outbox):
    def plan(tx):
        outbox.messages.enqueue([Outgoing("test", "sent@example.com", "Hello")])
        raise RuntimeError("the campaign failed after queueing")

    with pytest.raises(RuntimeError):
        outbox.run_transaction(plan)
    assert outbox.messages.list() == []


def test_bad_messages_are_one_error_naming_each_and_nothing_is_queued(outbox):
    with pytest.raises(ValidationError) as caught:
        outbox.messages.enqueue([
            Outgoing("test", "sent@example.com", "fine"),
            Outgoing("test", "", "no recipient", customer="nobody"),
            Outgoing("test", "sent@example.com", "x", subject="two\nlines",
                     headers={"Bcc": "a@example.com\r\nX-Evil: 1"}),
            Outgoing("test", "sent@example.com", "x", message_id="not-a-message-id")])
    assert str(caught.value).splitlines() == [
        "message 2: recipient: required: one line of text",
        "message 2: customer: no customer 'nobody'",
        "message 3: subject: contains U+000A (a control character): one-line text may not "
        "contain control characters (tab and newline included), line separators or "
        "bidirectional embeddings, overrides and isolates",
        "message 3: headers: Bcc: contains U+000D (a control character): one-line text may "
        "not contain control characters (tab and newline included), line separators or "
        "bidirectional embeddings, overrides and isolates",
        "message 4: message_id: 'not-a-message-id' is not a Message-ID (<local@domain>, "
        "no spaces)"]
    outbox.messages.enqueue([Outgoing("test", "sent@example.com", "x",
                                      message_id="<once@example.com>")])
    with pytest.raises(ValidationError, match="<once@example.com> is already queued"):
        outbox.messages.enqueue([Outgoing("test", "sent@example.com", "x",
                                          message_id="<once@example.com>")])
    assert len(outbox.messages.list()) == 1


def test_text_no_database_can_store_is_refused_in_every_field(outbox):
    unstorable = UNSTORABLE_TEXT
    with pytest.raises(ValidationError) as caught:
        outbox.messages.enqueue([
            Outgoing("test", "sent@example.com", "a\x00b"),
            Outgoing("test", "sent@example.com", "x", subject="\ud800", html="\udfff"),
            Outgoing("test", "sent@example.com", "x", headers={"X-Tag": "\ud800"},
                     meta={"campaign": "\x00"})])
    assert str(caught.value).splitlines() == [
        f"message 1: body: {unstorable}", f"message 2: subject: {unstorable}",
        f"message 2: html: {unstorable}", f"message 3: headers: X-Tag: {unstorable}",
        f"message 3: meta: {unstorable}"]
    assert outbox.messages.list() == []
    assert outgoing_problems(Outgoing("test", "sent@example.com", "x", subject=" ")) == [
        ("subject", "required: one line of text")]
    assert outgoing_problems(Outgoing("test", "sent@example.com", "x", subject="Hi")) == []


def test_each_outcome_is_recorded_with_its_detail_and_event(outbox, clock, channel):
    outbox.messages.enqueue([
        Outgoing("test", "sent@example.com", "a", customer="C1", meta={"campaign": "spring"}),
        Outgoing("test", "failed@example.com", "b"),
        Outgoing("test", "bounced@example.com", "c"),
        Outgoing("sms", "+441234567890", "d")])
    runner = Worker(outbox)
    assert runner.drain() == 4 and runner.errors == []
    assert statuses(outbox) == {
        "sent@example.com": ("sent", 1, None),
        "failed@example.com": ("failed", 1, "failed by the test server"),
        "bounced@example.com": ("bounced", 1, "bounced by the test server"),
        "+441234567890": ("failed", 1, "no channel 'sms' (enable the plugin that provides it)")}
    sent = outbox.messages.list(status="sent")[0]
    assert sent.sent_at == clock.now()
    events = [(e.type, e.payload.get("error"), e.payload["meta"])
              for e in outbox.events.list() if e.type.startswith("message.")]
    assert sorted(events) == [
        ("message.bounced", "bounced by the test server", {}),
        ("message.failed", "failed by the test server", {}),
        ("message.failed", "no channel 'sms' (enable the plugin that provides it)", {}),
        ("message.sent", None, {"campaign": "spring"})]
    assert [e.customer_id for e in outbox.events.list(type="message.sent")] == [
        outbox.customers.get("C1").id]
    assert Worker(outbox).drain() == 0  # nothing recorded is sent again
    assert len(channel.sent) == 3


def test_a_temporary_failure_backs_off_by_the_crm_clock_then_fails(outbox, clock, channel):
    outbox.plugins.configure_core(
        {**outbox.core_config, "messages": {"max_attempts": 3, "backoff_base_seconds": 60}})
    (message_id,) = outbox.messages.enqueue([Outgoing("test", "retry@example.com", "a")])
    start = clock.now()
    assert Worker(outbox).drain() == 1
    assert statuses(outbox)["retry@example.com"] == ("queued", 1, "retry by the test server")
    assert outbox.messages.get(message_id).next_attempt_at == start.replace(minute=1)
    clock.advance(seconds=59)
    assert Worker(outbox).drain() == 0  # not due yet
    clock.advance(seconds=1)
    assert Worker(outbox).drain() == 1
    assert outbox.messages.get(message_id).next_attempt_at == start.replace(minute=3)  # 2 × 60 s
    clock.advance(minutes=2)
    assert Worker(outbox).drain() == 1
    assert statuses(outbox)["retry@example.com"] == (
        "failed", 3, "gave up after 3 attempts: retry by the test server")
    assert channel.sent == [(message_id, 1), (message_id, 2), (message_id, 3)]
    clock.advance(days=1)
    assert Worker(outbox).drain() == 0


def test_a_channel_that_raises_keeps_what_it_reported_and_retries_the_rest(outbox, channel):
    outbox.messages.enqueue([Outgoing("test", "sent@example.com", "a"),
                             Outgoing("test", "boom@example.com", "b"),
                             Outgoing("test", "sent@example.org", "c")])
    runner = Worker(outbox)
    runner.drain()
    assert runner.errors == ["job messages.send failed: channel 'test' failed: "
                             "RuntimeError: the gateway hung up"]
    assert statuses(outbox) == {
        "sent@example.com": ("sent", 1, None),
        "boom@example.com": ("queued", 1, "channel 'test' failed: RuntimeError: the gateway "
                                          "hung up"),
        "sent@example.org": ("queued", 1, "channel 'test' failed: RuntimeError: the gateway "
                                          "hung up")}


def test_the_worker_waits_for_a_stuck_channel_no_longer_than_the_lease(
        outbox, channel, monkeypatch):
    """A channel that stops answering does not hold the worker past the batch's lease
    (messages.lease_seconds, on the deadlines' clock crmkit.outbound.monotonic): what it
    reported is kept, the rest is retried with the reason, and has expired for the channel
    (Sending.expired), which must not start it when it gets going again."""
    from crmkit import outbound

    lease = outbox.core_config["messages"]["lease_seconds"]
    now = [0.0]
    monkeypatch.setattr(outbound, "monotonic", lambda: now[0])
    unstuck = threading.Event()

    expired, finished = [], threading.Event()

    def send(batch):
        expired.append(batch[0].expired())
        now[0] += lease  # the lease runs out while the channel sends its first message ...
        yield SendResult(batch[0].message_id, "sent", "sent by the test server")
        unstuck.wait(5)  # ... then it hangs
        expired.extend(message.expired() for message in batch[1:])
        finished.set()
        for message in batch[1:]:
            yield SendResult(message.message_id, "sent", "sent by the test server")

    monkeypatch.setattr(channel, "send", send)
    outbox.messages.enqueue([Outgoing("test", f"sent@example.{tld}", "a")
                             for tld in ("com", "org", "net")])
    runner = Worker(outbox)
    try:
        runner.run_round()
    finally:
        unstuck.set()
    reason = (f"channel 'test' failed: no result within the lease of its batch ({lease:g} s, "
              "core config messages.lease_seconds)")
    assert runner.errors == [f"job messages.send failed: {reason}"]
    assert statuses(outbox) == {"sent@example.com": ("sent", 1, None),
                                "sent@example.org": ("queued", 1, reason),
                                "sent@example.net": ("queued", 1, reason)}
    assert finished.wait(5)
    assert expired == [False, True, True]  # what the channel must not start any more


def test_two_channels_of_one_name_are_a_plugin_error(outbox):
    with CRM.open(outbox.url, clock=outbox.clock, extra_plugins={
            "testchannel": channel_plugin(ScriptedChannel()),
            "other": channel_plugin(ScriptedChannel(), "other")}) as crm:
        crm.plugins.enable("other")
        with pytest.raises(PluginError, match="plugin 'testchannel': crmkit_channels: 'test' is "
                                              "already provided by plugin 'other'"):
            crm.messages.channels()


@pytest.mark.parametrize("name, problem", [
    ("SMS", "channel name 'SMS' must be written as consent is recorded: 'sms'"),
    (" sms", "channel name ' sms' must be written as consent is recorded: 'sms'"),
    ("s\x07ms", "channel name: contains U+0007")])
def test_a_channel_named_otherwise_than_consent_is_a_plugin_error(outbox, name, problem):
    shouting = ScriptedChannel()
    shouting.name = name
    with CRM.open(outbox.url, clock=outbox.clock,
                  extra_plugins={"other": channel_plugin(shouting, "other")}) as crm:
        crm.plugins.enable("other")
        with pytest.raises(PluginError,
                           match=f"plugin 'other': crmkit_channels: {re.escape(problem)}"):
            crm.messages.channels()


def test_merge_moves_messages_and_erasure_removes_their_content(outbox):
    outbox.customers.add("C2", "Ada L.", email="ada.l@example.com")
    outbox.messages.enqueue([Outgoing("test", "ada.l@example.com", "Dear Ada L.",
                                      subject="For Ada L.", customer="C2")])
    outbox.customers.merge("C1", "C2")
    (message,) = outbox.messages.list()
    assert message.customer == "C1"
    exported = outbox.customers.export_data("C1")
    assert [m["recipient"] for m in exported["messages"]] == ["ada.l@example.com"]
    outbox.customers.erase("C1")
    (message,) = outbox.messages.list()
    assert (message.recipient, message.subject, message.body, message.status, message.error) == (
        "erased", None, "", "cancelled", "cancelled: the customer was erased")


def test_more_messages_than_one_statement_can_bind_are_queued_in_one_call(outbox):
    """PostgreSQL binds at most 65,535 parameters per statement: the check that no
    Message-ID is taken binds them in chunks."""
    count = 70_000
    ids = outbox.messages.enqueue(Outgoing("test", f"c{n}@example.com", "Hello")
                                  for n in range(count))
    assert len(set(ids)) == count
    assert len(outbox.messages.list(limit=None)) == count
