"""The collaborative card of the customer 360 page: preferred channel and open work items."""

from __future__ import annotations

from crmkit.plugin import Card

from .workitems import OPEN_STATES


def card(crm, principal, customer) -> Card:
    """The preferred contact channel, consent per channel and the open work items
    (team, state, assignee, whether a hand-off awaits acknowledgement)."""
    api = crm.plugin("collaborative")
    external_id = customer["external_id"]
    rows = [("Preferred channel", customer.get("preferred_channel") or "none")]
    if crm.auth.allowed(principal, "customers.pii"):
        for consent in crm.customers.consents(external_id):
            rows.append((f"Consent: {consent.channel}",
                         "granted" if consent.granted else "withdrawn"))
    items = [item for item in api.items_of(external_id) if item.state in OPEN_STATES]
    rows.append(("Open work items", str(len(items))))
    for item in items:
        waiting = ", hand-off to acknowledge" if item.ack_due_at is not None else ""
        rows.append((f"#{item.id} {item.team}",
                     f"{item.subject} — {item.state}, {item.assignee or 'unassigned'}{waiting}"))
    return Card("Contact and work", rows)
