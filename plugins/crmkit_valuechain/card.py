"""The value-chain card of the customer 360 page: whether the customer is strategically
significant, why, and their group's value proposition."""

from __future__ import annotations

from crmkit.plugin import Card, format_date, gettext as _


def card(crm, principal, customer) -> Card:
    """SSC status (group, reasons, note) and the group's value proposition."""
    api = crm.plugin("valuechain")
    external_id = customer["external_id"]
    ssc = next((s for s in api.sscs() if s.customer == external_id), None)
    if ssc is None:
        return Card(_("Value chain"), [(_("Strategically significant"), _("✗ no"))])
    rows = [(_("Strategically significant"),
             _("✓ yes, since {date}").format(date=format_date(ssc.marked_at))),
            (_("Group"), ssc.group),
            (_("Reasons"), ", ".join(ssc.reasons))]
    if ssc.note:
        rows.append((_("Note"), ssc.note))
    proposition = api.propositions().get(ssc.group)
    if proposition:
        rows.append((_("Value proposition"), proposition))
    return Card(_("Value chain"), rows)
