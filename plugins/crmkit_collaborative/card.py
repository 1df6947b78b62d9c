"""The collaborative card of the customer 360 page: preferred channel and open work items."""

from __future__ import annotations

from crmkit.plugin import Card, gettext as _

from .workitems import OPEN_STATES


def card(crm, principal, customer) -> Card:
    """The preferred contact channel, consent per channel (shown to members allowed
    ``customers.pii`` on this customer) and the open work items (team, state, assignee,
    whether a hand-off awaits acknowledgement)."""
    api = crm.plugin("collaborative")
    external_id = customer["external_id"]
    rows = [(_("Preferred channel"), customer.get("preferred_channel") or _("none"))]
    if crm.auth.allowed(principal, "customers.pii", customer):
        for consent in crm.customers.consents(external_id):
            rows.append((_("Consent: {channel}").format(channel=consent.channel),
                         _("granted") if consent.granted else _("withdrawn")))
    items = [item for item in api.items_of(external_id) if item.state in OPEN_STATES]
    rows.append((_("Open work items"), str(len(items))))
    for item in items:
        shown = (_("{subject} — {state}, {assignee}, hand-off to acknowledge")
                 if item.ack_due_at is not None else _("{subject} — {state}, {assignee}"))
        rows.append((f"#{item.id} {item.team}",
                     shown.format(subject=item.subject, state=item.state,
                                  assignee=item.assignee or _("unassigned"))))
    return Card(_("Contact and work"), rows)
