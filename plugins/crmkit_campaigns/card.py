"""The campaigns card of the customer 360 page: the customer's latest campaigns (what each
did with them, and what became of the message) and their coupons."""

from __future__ import annotations

from sqlalchemy import select

from crmkit.plugin import Card, format_date, format_number, gettext as _, messages

from .tables import campaigns, coupons, recipients

SHOWN = 5
"""How many of the customer's latest campaigns, and of their coupons, the card lists."""


def card(crm, principal, customer) -> Card:
    """The latest campaigns the customer was planned in (sent, held out, skipped and why)
    and their coupons (value, uses, expiry)."""
    customer_id = crm.customers.get(customer["external_id"]).id
    with crm.read() as conn:
        planned = conn.execute(
            select(campaigns.c.name, recipients.c.status, recipients.c.reason,
                   recipients.c.planned_at, messages.c.status.label("message"))
            .join(campaigns, campaigns.c.id == recipients.c.campaign_id)
            .outerjoin(messages, messages.c.message_id == recipients.c.message_id)
            .where(recipients.c.customer_id == customer_id)
            .order_by(recipients.c.planned_at.desc(), recipients.c.id.desc())
            .limit(SHOWN)).all()
        issued = conn.execute(
            select(coupons).where(coupons.c.customer_id == customer_id)
            .order_by(coupons.c.issued_at.desc(), coupons.c.id.desc()).limit(SHOWN)
        ).mappings().all()
    rows = [(_("Campaign {name}").format(name=row.name), _state(row)) for row in planned]
    for coupon in issued:
        value = (f"{format_number(coupon['value'], 0)} %" if coupon["kind"] == "percent"
                 else format_number(coupon["value"], 2))
        uses = (_("used {uses} of {max} times").format(uses=coupon["uses"],
                                                       max=coupon["max_uses"])
                if coupon["max_uses"] else _("used {uses} times").format(uses=coupon["uses"]))
        expiry = ("" if coupon["expires_at"] is None
                  else _(", expires {date}").format(date=format_date(coupon["expires_at"])))
        rows.append((_("Coupon {code}").format(code=coupon["code"]),
                     f"{value}, {uses}{expiry}"))
    if not rows:
        return Card(_("Campaigns"), (), note=_("in no campaign yet"))
    return Card(_("Campaigns"), rows)


def _state(row) -> str:
    """What the campaign did with the customer, in words."""
    if row.status == "held_out":
        return _("held out (the control group: nothing sent)")
    if row.status == "skipped":
        return _("skipped: {reason}").format(reason=row.reason)
    if row.message is None:
        return _("planned, not sent yet")
    return {"queued": _("message queued"), "sent": _("message sent"),
            "failed": _("message failed"), "bounced": _("message bounced"),
            "cancelled": _("message cancelled")}.get(row.message, row.message)


__all__ = ["card", "SHOWN"]
