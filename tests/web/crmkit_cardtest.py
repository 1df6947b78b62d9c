"""A local test plugin with a customer card that fails for some customers."""

from __future__ import annotations

import crmkit
from crmkit.plugin import Card

PLUGIN = crmkit.PluginInfo(name="cardtest", description="A card for the web app tests.")


@crmkit.hookimpl
def crmkit_customer_card(crm, principal, customer):
    if customer["external_id"] == "BAD":
        raise RuntimeError("a bug in the card")
    if customer["external_id"] == "ODD":
        return {"title": "not a Card"}
    if customer["external_id"] == "NONE":
        return None
    return Card("Test card", [("Seen as", customer["name"]), ("Empty", None)],
                note="<b>a note</b>")
