"""The analytical card of the customer 360 page: RFM scores and segment, lifecycle stage."""

from __future__ import annotations

from crmkit.plugin import Card, format_number, gettext as _, ngettext

def card(crm, principal, customer) -> Card:
    """The customer's RFM scores and segment (now) and their lifecycle stage."""
    api = crm.plugin("analytical")
    external_id = customer["external_id"]
    customer_id = crm.customers.get(external_id).id
    rows: list[tuple[str, str]] = []
    score = next((s for s in api.rfm() if s.customer_id == customer_id), None)
    if score is None:
        rows.append((_("RFM"), _("no purchase yet")))
    else:
        rows.append((_("RFM segment"), score.segment))
        rows.append((_("RFM scores"), f"R{score.r} F{score.f} M{score.m}"))
        rows.append((_("Last purchase"), ngettext("{days} day ago", "{days} days ago",
                                                  score.recency_days
                                                  ).format(days=score.recency_days)))
        rows.append((_("Purchases"), str(score.frequency)))
        rows.append((_("Spend"), format_number(score.monetary, 2)))
    rows.append((_("Lifecycle stage"), api.lifecycle_stages().get(customer_id, "—")))
    return Card(_("Analytics"), rows)
