"""End to end: a campaign planned by the campaigns plugin is rendered and sent by one
``crmkit worker --once`` to a real SMTP server; a customer who follows the email's one-click
List-Unsubscribe link gets nothing from the next campaign, and the consent ledger says why."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from crmkit import CRM
from crmkit.web import create_app
from web.web_support import InProcessClient
from webhooks.support import T0

from .test_delivery import PUBLIC_URL, SENDER

EVERYONE = {"field": "type", "op": "eq", "value": "person"}


@pytest.fixture
def shop(crm_url, smtp_server):
    from crmkit.clock import FixedClock

    server = smtp_server()
    with CRM.open(crm_url, clock=FixedClock(T0), create=True) as crm:
        crm.plugins.enable("campaigns", {"email": {"host": "127.0.0.1", "port": server.port,
                                                   "sender": SENDER}})
        crm.plugins.configure_core({**crm.core_config, "public_url": PUBLIC_URL})
        crm.customers.add_many([{"external_id": f"C{n}", "name": f"Customer {n}",
                                 "email": f"c{n}@example.com"} for n in range(6)])
        for n in range(5):  # C5 never consented
            crm.customers.set_consent(f"C{n}", "email", True, source="signup form")
        yield crm, server


def test_an_unsubscribed_customer_gets_nothing_from_the_next_campaign(shop, worker):
    crm, server = shop
    campaigns = crm.plugin("campaigns")
    campaigns.add("spring", channel="email", condition=EVERYONE, subject="Spring",
                  template="Dear {{ name }}, spring is here.")
    campaigns.run("spring")
    worker.run(T0)
    spring = server.log()
    assert sorted(m["rcpt_tos"][0] for m in spring) == [f"c{n}@example.com" for n in range(5)]
    assert "handled 0 items" in worker.run(T0).stdout  # nothing is sent twice

    (to_c0,) = [m for m in spring if m["rcpt_tos"] == ["c0@example.com"]]
    link = to_c0["headers"]["list-unsubscribe"].strip("<>")
    assert link.startswith(f"{PUBLIC_URL}/t/u/")
    client = InProcessClient(create_app(crm))
    try:
        answer = client.post(urlsplit(link).path, content=b"List-Unsubscribe=One-Click")
    finally:
        client.close()
    assert answer.status_code == 200
    (consent,) = crm.customers.consents("C0")
    assert (consent.granted, consent.source) == (
        False, f"unsubscribe link {to_c0['headers']['message-id']}")

    campaigns.add("summer", channel="email", condition=EVERYONE, subject="Summer",
                  template="Dear {{ name }}, summer is here.")
    campaigns.run("summer")
    worker.run(T0)
    summer = server.log()[len(spring):]
    assert sorted(m["rcpt_tos"][0] for m in summer) == [f"c{n}@example.com" for n in range(1, 5)]
