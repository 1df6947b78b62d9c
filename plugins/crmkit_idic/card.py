"""The IDIC card of the customer 360 page: value group and progress through the four steps."""

from __future__ import annotations

from crmkit.plugin import Card


def card(crm, principal, customer) -> Card:
    """The customer's value group (latest differentiation run) and IDIC steps reached."""
    api = crm.plugin("idic")
    external_id = customer["external_id"]
    progress = api.progress(external_id)
    steps = [("Identified", progress.identified), ("Differentiated", progress.differentiated),
             ("Interacted", progress.interacted), ("Customised", progress.customised)]
    rows = [("Value group", api.group_of(external_id) or "not differentiated yet"),
            ("Progress", f"{progress.score} of 4 steps")]
    rows += [(name, "✓ yes" if reached else "✗ no") for name, reached in steps]
    return Card("IDIC", rows)
