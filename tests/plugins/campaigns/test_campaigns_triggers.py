"""The seed scenario end to end: a customer who browsed and did not buy within 48 hours gets a
coupon email (a triggered campaign, planned by ``crmkit sweep``, sent by ``crmkit worker``
to a real SMTP server), and the purchase with that coupon is credited to the campaign."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from messaging.conftest import smtp_server  # noqa: F401  (the SMTP server process fixture)
from webhooks.conftest import worker  # noqa: F401  (crmkit worker --once processes)
from webhooks.support import T0

from crmkit import CRM
from crmkit.clock import FixedClock
from crmkit.errors import ValidationError

PUBLIC_URL = "https://crm.example.com"
TEMPLATE = "Hello {{ name }},\nyour code {{ coupon }} takes 10 % off until Sunday.\n"


def hours(n: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


@pytest.fixture
def crm(crm_url):
    with CRM.open(crm_url, clock=FixedClock(T0), create=True) as instance:
        instance.plugins.enable("campaigns")
        instance.plugins.configure_core({**instance.core_config, "public_url": PUBLIC_URL})
        yield instance


def test_browse_without_purchase_gets_a_coupon_email_and_the_purchase_is_attributed(
        crm, smtp_server, worker):
    server = smtp_server()
    for external_id in ("B1", "B2", "B3"):
        crm.customers.add(external_id, external_id.title(),
                          email=f"{external_id.lower()}@x.example")
        crm.customers.set_consent(external_id, "email", True, "signup form")
    api = crm.plugin("campaigns")
    api.add("browsed", channel="email", condition={"all": []}, subject="A gift for you",
            template=TEMPLATE, holdout=0.0, attribution_days=14)
    api.set_offer("browsed", "percent", "10", valid_days=7)
    crm.plugins.configure("campaigns", {
        **crm.plugin_config("campaigns"), "triggers": [{"campaign": "browsed", "after": "browse"}],
        "email": {"host": "127.0.0.1", "port": server.port, "sender": "shop@x.example"}})
    crm.interactions.record("B1", hours(1), kind="browse", external_id="W1")
    crm.interactions.record("B2", hours(1), kind="browse", external_id="W2")
    crm.interactions.record("B2", hours(20), kind="purchase", amount="30", external_id="P2")
    crm.interactions.record("B3", hours(40), kind="browse", external_id="W3")

    crm.clock.set(hours(50))  # B1's 48 hours have passed; B2 bought; B3 still has time
    assert crm.sweep()["campaigns"] == {"campaign_recipients_triggered": 1}
    assert crm.sweep()["campaigns"] == {"campaign_recipients_triggered": 0}  # idempotent
    worker.run(hours(50))
    worker.run(hours(50))
    [mail] = server.log()
    [coupon] = api.coupons("browsed")
    assert (mail["rcpt_tos"], mail["headers"]["subject"], coupon.customer) == (
        ["b1@x.example"], "A gift for you", "B1")
    assert f"your code {coupon.code} takes 10 % off" in mail["text"]

    with pytest.raises(ValidationError, match="was issued to another customer"):
        crm.interactions.record("B2", hours(60), kind="purchase", amount="80",
                                payload={"coupon": coupon.code})
    crm.interactions.record("B1", hours(60), kind="purchase", amount="80",
                            payload={"coupon": coupon.code})
    result = api.report("browsed", hours(70)).all
    assert (result.sent, result.converted, result.revenue) == (1, 1, Decimal("80.0000"))

    crm.clock.set(hours(90))  # B3's wait is over: B3 gets the campaign too, once
    assert crm.sweep()["campaigns"] == {"campaign_recipients_triggered": 1}
    assert crm.sweep()["campaigns"] == {"campaign_recipients_triggered": 0}
