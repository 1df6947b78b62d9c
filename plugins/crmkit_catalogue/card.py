"""The catalogue card of the customer 360 page: profit so far and the next-best offers."""

from __future__ import annotations

from crmkit.plugin import Card

from .profit import by_customer

SHOWN_OFFERS = 3
"""How many of the customer's next-best offers the card lists."""


def card(crm, principal, customer) -> Card:
    """Revenue, gross margin, cost to serve and profit up to now, and the best offers
    (cross-sell or up-sell, with their score)."""
    api = crm.plugin("catalogue")
    external_id = customer["external_id"]
    customer_id = crm.customers.get(external_id).id
    with crm.read() as conn:
        lines = by_customer(conn, api.settings, crm.clock.now(), customer_id=customer_id)
    rows = []
    if lines:
        line = lines[0]
        rows += [("Revenue", f"{line.revenue:.2f}"), ("Gross margin", f"{line.gross_margin:.2f}"),
                 ("Cost to serve", f"{line.cost_to_serve:.2f}"), ("Profit", f"{line.profit:.2f}")]
    offers = api.offers(external_id)[:SHOWN_OFFERS]
    names = {sku: api.product(sku).name for sku in {o["sku"] for o in offers}}
    for offer in offers:
        kind = "up-sell" if offer["kind"] == "up" else "cross-sell"
        rows.append((f"Offer {offer['rank']}", f"{names[offer['sku']]} ({offer['sku']}): {kind}, "
                                               f"score {offer['score']:.2f}"))
    if not rows:
        return Card("Products and profit", (), note="no purchase with line items yet")
    note = None if offers else "no next-best offer (nothing the rules or categories suggest)"
    return Card("Products and profit", rows, note=note)


__all__ = ["card", "SHOWN_OFFERS"]
