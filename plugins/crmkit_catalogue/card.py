"""The catalogue card of the customer 360 page: profit so far and the next-best offers."""

from __future__ import annotations

from crmkit.plugin import Card, format_number, gettext as _

from .profit import acquisitions, by_customer

SHOWN_OFFERS = 3
"""How many of the customer's next-best offers the card lists."""


def card(crm, principal, customer) -> Card:
    """Revenue, gross margin, cost to serve, acquisition cost (when a plugin attributes one)
    and profit up to now, and the best offers (cross-sell or up-sell, with their score)."""
    api = crm.plugin("catalogue")
    external_id = customer["external_id"]
    customer_id = crm.customers.get(external_id).id
    now = crm.clock.now()
    acquired = list(acquisitions(crm, now, None).values())
    with crm.read() as conn:
        lines = by_customer(conn, api.settings, now, customer_id=customer_id,
                            acquired=acquired)
    rows = []
    if lines:
        line = lines[0]
        rows += [(_("Revenue"), format_number(line.revenue, 2)),
                 (_("Gross margin"), format_number(line.gross_margin, 2)),
                 (_("Cost to serve"), format_number(line.cost_to_serve, 2))]
        if acquired:
            rows.append((_("Acquisition cost"), format_number(line.acquisition_cost, 2)))
        rows.append((_("Profit"), format_number(line.profit, 2)))
    offers = api.offers(external_id)[:SHOWN_OFFERS]
    names = {sku: api.product(sku).name for sku in {o["sku"] for o in offers}}
    for offer in offers:
        kind = _("up-sell") if offer["kind"] == "up" else _("cross-sell")
        rows.append((_("Offer {rank}").format(rank=offer["rank"]),
                     _("{name} ({sku}): {kind}, score {score}").format(
                         name=names[offer["sku"]], sku=offer["sku"], kind=kind,
                         score=format_number(offer["score"], 2))))
    if not rows:
        return Card(_("Products and profit"), (), note=_("no purchase with line items yet"))
    note = (None if offers
            else _("no next-best offer (nothing the rules or categories suggest)"))
    return Card(_("Products and profit"), rows, note=note)


__all__ = ["card", "SHOWN_OFFERS"]
