"""End to end: a message queued by an operational automation rule is sent by one ``crmkit
worker --once`` through the email channel (campaigns) to a real SMTP server, exactly once."""

from __future__ import annotations

import pytest

from crmkit import CRM
from webhooks.support import T0

from .test_delivery import SENDER

WELCOME = {"name": "welcome", "on": "consent.changed",
           "if": {"field": "payload.granted", "op": "eq", "value": True},
           "do": [{"queue_message": {"subject": "Welcome", "body": "Thank you for signing up."}}]}


@pytest.fixture
def shop(crm_url, smtp_server):
    from crmkit.clock import FixedClock

    server = smtp_server()
    with CRM.open(crm_url, clock=FixedClock(T0), create=True) as crm:
        crm.plugins.enable("campaigns", {"email": {"host": "127.0.0.1", "port": server.port,
                                                   "sender": SENDER}})
        crm.plugins.enable("operational", {"automation": {"rules": [WELCOME]}})
        yield crm, server


def test_an_automation_message_goes_through_the_core_outbox_to_the_smtp_server(shop, worker):
    crm, server = shop
    crm.customers.add_many([
        {"external_id": "C1", "name": "Ada", "email": "ada@example.com",
         "preferred_channel": "email"},
        {"external_id": "C2", "name": "Ben", "email": "ben@example.com",
         "preferred_channel": "sms"}])
    for customer in ("C1", "C2"):
        crm.customers.set_consent(customer, "email", True, "signup form")
    [queued] = crm.messages.list(status="queued")
    assert (queued.customer, queued.recipient, queued.meta) == ("C1", "ada@example.com",
                                                                {"rule": "welcome"})

    worker.run(T0)
    [mail] = server.log()
    assert mail["rcpt_tos"] == ["ada@example.com"]
    assert (mail["headers"]["subject"], mail["headers"]["message-id"]) == ("Welcome",
                                                                         queued.message_id)
    assert mail["text"].strip() == "Thank you for signing up."
    assert crm.messages.get(queued.message_id).status == "sent"
    assert "handled 0 items" in worker.run(T0).stdout  # nothing is sent twice
    assert len(server.log()) == 1
