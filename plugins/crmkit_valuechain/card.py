"""The value-chain card of the customer 360 page: whether the customer is strategically
significant, why, and their group's value proposition."""

from __future__ import annotations

from crmkit.plugin import Card


def card(crm, principal, customer) -> Card:
    """SSC status (group, reasons, note) and the group's value proposition."""
    api = crm.plugin("valuechain")
    external_id = customer["external_id"]
    ssc = next((s for s in api.sscs() if s.customer == external_id), None)
    if ssc is None:
        return Card("Value chain", [("Strategically significant", "✗ no")])
    rows = [("Strategically significant", f"✓ yes, since {ssc.marked_at:%Y-%m-%d}"),
            ("Group", ssc.group),
            ("Reasons", ", ".join(ssc.reasons))]
    if ssc.note:
        rows.append(("Note", ssc.note))
    proposition = api.propositions().get(ssc.group)
    if proposition:
        rows.append(("Value proposition", proposition))
    return Card("Value chain", rows)
