"""The operational card of the customer 360 page: lead, open opportunities, tasks, cases."""

from __future__ import annotations

from decimal import Decimal

from crmkit.plugin import Card, format_datetime, format_money, format_number, gettext as _

from .routes import personal_text

OPEN_CASE_STATES = ("open", "in_progress")


def card(crm, principal, customer) -> Card:
    """Lead stage and score, open opportunities (count and amount), open tasks (overdue
    ones counted) and open cases with their SLA state; a case's subject, which may quote
    the customer (a complaint's text, a social handle), reads ``***`` for a member without
    ``customers.pii`` on the customer (:func:`personal_text`)."""
    api = crm.plugin("operational")
    external_id = customer["external_id"]
    now = crm.clock.now()
    rows: list[tuple[str, str]] = []
    lead = api.lead(external_id)
    if lead is None:
        rows.append((_("Lead"), _("not in the funnel")))
    else:
        rows.append((_("Lead stage"), lead["stage"]))
        rows.append((_("Lead score"), "—" if lead["score"] is None else f"{lead['score']}"))
        rows.append((_("Lead owner"), lead.get("owner") or _("nobody")))
    opportunities = [o for o in api.opportunities(customer=external_id)
                     if o.get("closed_at") is None]
    totals: dict[str, Decimal] = {}
    for o in opportunities:
        currency = o.get("currency") or ""
        totals[currency] = totals.get(currency, Decimal(0)) + o["amount"]
    amounts = ", ".join(format_money(amount, currency) if currency else format_number(amount, 2)
                        for currency, amount in sorted(totals.items()))
    rows.append((_("Open opportunities"),
                 f"{len(opportunities)}" + (f" ({amounts})" if amounts else "")))
    tasks = api.tasks(customer=external_id)
    overdue = sum(1 for t in tasks if t["due_at"] is not None and t["due_at"] < now)
    rows.append((_("Open tasks"), _("{count} ({overdue} overdue)").format(
        count=len(tasks), overdue=overdue) if overdue else f"{len(tasks)}"))
    for case in api.cases(customer=external_id):
        if case["status"] in OPEN_CASE_STATES:
            subject = personal_text(crm, principal, customer, case["subject"])
            rows.append((_("Case #{id}").format(id=case["id"]),
                         f"{subject} — {case['status']}, {case['priority']}, "
                         f"{sla_state(case, now)}"))
    return Card(_("Sales and service"), rows)


def sla_state(case: dict, now) -> str:
    """The SLA state of an open case, in words (never by colour alone)."""
    if (case["resolution_breached_at"] is not None
            or case["first_response_breached_at"] is not None):
        return _("SLA breached")
    responded = case["first_response_at"] is not None
    due = case["resolution_due"] if responded else case["first_response_due"]
    if due is None:
        return _("no SLA")
    if due < now:
        return _("SLA breached")
    shown = _("resolution due {at}") if responded else _("first response due {at}")
    return shown.format(at=format_datetime(due))
