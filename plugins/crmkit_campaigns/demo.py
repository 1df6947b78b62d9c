"""campaigns' part of ``crmkit demo``: a newsletter with two subjects, planned and rendered.

A sample of the people sign up for email; the campaign targets everyone with an
email address, so the plan shows who is skipped and why, the holdout and the A/B
split.  The messages are rendered into the outbox (``crmkit worker`` sends them
once the ``email`` settings name an SMTP server).  Tracking links need the core
``public_url``: when it is not set, the demo sets it to ``crmkit serve``'s default
address.
"""

from __future__ import annotations

import random

SIGN_UPS = 300
"""People of the sample who sign up for the newsletter (consent to email)."""

TEMPLATE = """Dear {{ name }},

winter is here, and so are our warm teas: https://shop.example.com/winter

{% if "vip" in tags %}As one of our best customers, your tasting pack is on us.
{% endif %}See you soon!
"""


COUPON_TEMPLATE = """Dear {{ name }},

still thinking about it?  Your code {{ coupon }} takes 10 % off your next order
for two weeks: https://shop.example.com/basket
"""

BROWSERS = 40
"""Signed-up people (reachable by email) who browse the shop three days before the demo's
moment."""


def run(crm, rng: random.Random) -> list[str]:
    """Sign people up, add the winter newsletter, plan it and render its messages."""
    from .definition import SEED_RANGE
    from .rendering import render_batch

    if not crm.core_config.get("public_url"):
        crm.plugins.configure_core({**crm.core_config, "public_url": "http://127.0.0.1:8000"})
    people = [c for c in crm.customers.list(limit=None, type="person") if c.email]
    signed_up = {c.external_id for c in rng.sample(people, min(SIGN_UPS, len(people)))}
    for external_id in sorted(signed_up):
        crm.customers.set_consent(external_id, "email", True, "demo newsletter sign-up")
    api = crm.plugin("campaigns")
    api.add("winter-newsletter", channel="email", goal="Winter tea sales",
            condition={"field": "email", "op": "exists"}, subject="Winter news",
            template=TEMPLATE, holdout=0.1, cost="150", cost_per_message="0.02",
            variants=[api.Variant("A", 0.5, "Winter news for {{ name }}", TEMPLATE),
                      api.Variant("B", 0.5, "{{ name }}, warm teas are back", TEMPLATE)],
            seed=rng.randrange(SEED_RANGE))
    planned = api.run("winter-newsletter")
    rendered = 0
    while (batch := render_batch(crm, crm.clock.now(), 1000)) > 0:
        rendered += batch
    lines = browsed_without_buying(crm, rng, [
        c.external_id for c in people
        if c.external_id in signed_up and c.preferred_channel in (None, "email")])
    skipped = ", ".join(f"{reason} {n}" for reason, n in planned["skipped_by_reason"].items())
    return [f"winter-newsletter (email, variants A/B, 10 % holdout): {planned['new']} in the "
            f"audience; {planned['planned']} planned "
            f"({', '.join(f'{v} {n}' for v, n in planned['by_variant'].items())}), "
            f"{planned['held_out']} held out, {planned['skipped']} skipped ({skipped})",
            f"{rendered} rendered into the outbox (`crmkit worker` sends them once an SMTP "
            "server is set: crmkit plugins config campaigns --set email.host=HOST)"] + lines


def browsed_without_buying(crm, rng: random.Random, signed_up: list[str]) -> list[str]:
    """The seed scenario: a triggered coupon campaign for people who browsed and did not buy
    within 48 hours; some then buy with their coupon, and the report credits the campaign."""
    import datetime as dt
    from decimal import Decimal

    from .rendering import render_batch
    from .triggers import sweep

    name = "browsed-no-purchase"
    api = crm.plugin("campaigns")
    api.add(name, channel="email", goal="Win back people who browsed but did not buy",
            condition={"field": "email", "op": "exists"}, subject="A gift for you, {{ name }}",
            template=COUPON_TEMPLATE, cost_per_message="0.02", attribution_days=14)
    api.set_offer(name, "percent", "10", valid_days=14)
    crm.plugins.configure("campaigns", {**crm.plugin_config("campaigns"), "triggers": [
        {"campaign": name, "after": "browse", "unless": "purchase", "hours": 48}]})
    now = crm.clock.now()
    browsers = rng.sample(signed_up, min(BROWSERS, len(signed_up)))
    rows = [{"customer": c, "occurred_at": now - dt.timedelta(days=3), "kind": "browse",
             "channel": "web", "external_id": f"demo-browse-{c}"} for c in browsers]
    buyers = browsers[: len(browsers) // 4]  # a quarter bought within a day of browsing
    rows += [{"customer": c, "occurred_at": now - dt.timedelta(days=2, hours=12),
              "kind": "purchase", "amount": "42.00", "external_id": f"demo-browse-buy-{c}"}
             for c in buyers]
    crm.interactions.record_many(rows)
    triggered = crm.run_transaction(lambda tx: sweep(tx.context("campaigns")))
    rendered = 0
    while (batch := render_batch(crm, now, 1000)) > 0:
        rendered += batch
    codes = api.coupons(name)
    redeemed = codes[: len(codes) // 3]
    crm.interactions.record_many([
        {"customer": c.customer, "occurred_at": now, "kind": "purchase",
         "amount": str(Decimal(30 + 5 * n)), "external_id": f"demo-coupon-{c.customer}",
         "payload": {"coupon": c.code}} for n, c in enumerate(redeemed)])
    result = api.report(name).all
    return [f"{name} (triggered: a browse without a purchase within 48 h, a 10 % coupon): "
            f"{triggered} of {len(browsers)} browsers planned by the sweep, {rendered} coupon "
            f"emails rendered; {result.converted} bought with their coupon for "
            f"{result.revenue} {crm.core_config['default_currency']} "
            f"(crmkit campaigns report {name})"]
