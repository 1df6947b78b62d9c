"""The loyalty card of the customer 360 page: tier, balance and the points expiring soon."""

from __future__ import annotations

import datetime as dt

from crmkit.plugin import Card, NotFound, format_date, format_number, gettext as _, ngettext

from . import inactivity, ledger as lg

EXPIRING_WITHIN = dt.timedelta(days=30)
"""Points whose lots expire within this time of now are shown as expiring soon."""


def card(crm, principal, customer) -> Card:
    """Tier, points balance (spendable, locked, owed) and points expiring within 30 days."""
    api = crm.plugin("loyalty")
    external_id = customer["external_id"]
    try:
        member = api.member(external_id)
    except NotFound:
        return Card(_("Loyalty"), (), note=_("not a loyalty member (members join with their "
                                             "first purchase)"))
    now = crm.clock.now()
    customer_id = crm.customers.get(external_id).id
    with crm.read() as conn:
        totals = lg.lot_totals(conn, customer_id, now, expiring_by=now + EXPIRING_WITHIN,
                               inactivity=inactivity.of(api.settings, now))
    soon, first = totals.expiring, totals.first_expiry
    expiring_soon = points(soon)
    if first:
        expiring_soon = _("{points} (first on {date})").format(points=expiring_soon,
                                                                date=format_date(first))
    rows = [(_("Tier"), member.tier or _("none")),
            (_("Balance"), points(member.balance)),
            (_("Spendable now"), points(member.available)),
            (_("Expiring in 30 days"), expiring_soon)]
    if member.locked:
        rows.append((_("Locked (return window)"), points(member.locked)))
    if member.owed:
        rows.append((_("Owed"), points(member.owed)))
    return Card(_("Loyalty"), rows)


def points(count: int) -> str:
    """``count`` points, in the request's language."""
    return ngettext("{count} point", "{count} points", count).format(count=format_number(count))
