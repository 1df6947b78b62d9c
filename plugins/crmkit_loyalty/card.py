"""The loyalty card of the customer 360 page: tier, balance and the points expiring soon."""

from __future__ import annotations

import datetime as dt

from crmkit.plugin import Card, NotFound

from . import ledger as lg

EXPIRING_WITHIN = dt.timedelta(days=30)
"""Points whose lots expire within this time of now are shown as expiring soon."""


def card(crm, principal, customer) -> Card:
    """Tier, points balance (spendable, locked, owed) and points expiring within 30 days."""
    api = crm.plugin("loyalty")
    external_id = customer["external_id"]
    try:
        member = api.member(external_id)
    except NotFound:
        return Card("Loyalty", (), note="not a loyalty member (members join with their first "
                                        "purchase)")
    now = crm.clock.now()
    customer_id = crm.customers.get(external_id).id
    with crm.read() as conn:
        totals = lg.lot_totals(conn, customer_id, now, expiring_by=now + EXPIRING_WITHIN)
    soon, first = totals.expiring, totals.first_expiry
    rows = [("Tier", member.tier or "none"),
            ("Balance", f"{member.balance} points"),
            ("Spendable now", f"{member.available} points"),
            ("Expiring in 30 days", f"{soon} points" + (f" (first on {first:%Y-%m-%d})"
                                                         if first else ""))]
    if member.locked:
        rows.append(("Locked (return window)", f"{member.locked} points"))
    if member.owed:
        rows.append(("Owed", f"{member.owed} points"))
    return Card("Loyalty", rows)
