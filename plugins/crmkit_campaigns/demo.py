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


def run(crm, rng: random.Random) -> list[str]:
    """Sign people up, add the winter newsletter, plan it and render its messages."""
    from .definition import SEED_RANGE
    from .rendering import render_batch

    if not crm.core_config.get("public_url"):
        crm.plugins.configure_core({**crm.core_config, "public_url": "http://127.0.0.1:8000"})
    people = [c for c in crm.customers.list(limit=None, type="person") if c.email]
    for customer in rng.sample(people, min(SIGN_UPS, len(people))):
        crm.customers.set_consent(customer.external_id, "email", True, "demo newsletter sign-up")
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
    skipped = ", ".join(f"{reason} {n}" for reason, n in planned["skipped_by_reason"].items())
    return [f"winter-newsletter (email, variants A/B, 10 % holdout): {planned['new']} in the "
            f"audience; {planned['planned']} planned "
            f"({', '.join(f'{v} {n}' for v, n in planned['by_variant'].items())}), "
            f"{planned['held_out']} held out, {planned['skipped']} skipped ({skipped})",
            f"{rendered} rendered into the outbox (crmkit worker sends them through the "
            "email settings)"]
