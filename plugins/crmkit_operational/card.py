"""The operational card of the customer 360 page: lead, open opportunities, tasks, cases."""

from __future__ import annotations

from decimal import Decimal

from crmkit.plugin import Card

CENT = Decimal("0.01")

OPEN_CASE_STATES = ("open", "in_progress")


def card(crm, principal, customer) -> Card:
    """Lead stage and score, open opportunities (count and amount), open tasks (overdue
    ones counted) and open cases with their SLA state."""
    api = crm.plugin("operational")
    external_id = customer["external_id"]
    now = crm.clock.now()
    rows: list[tuple[str, str]] = []
    lead = api.lead(external_id)
    if lead is None:
        rows.append(("Lead", "not in the funnel"))
    else:
        rows.append(("Lead stage", lead["stage"]))
        rows.append(("Lead score", "—" if lead["score"] is None else f"{lead['score']}"))
        rows.append(("Lead owner", lead.get("owner") or "nobody"))
    opportunities = [o for o in api.opportunities(customer=external_id)
                     if o.get("closed_at") is None]
    totals: dict[str, Decimal] = {}
    for o in opportunities:
        currency = o.get("currency") or ""
        totals[currency] = totals.get(currency, Decimal(0)) + o["amount"]
    amounts = ", ".join(f"{amount.quantize(CENT)} {currency}".strip()
                        for currency, amount in sorted(totals.items()))
    rows.append(("Open opportunities",
                 f"{len(opportunities)}" + (f" ({amounts})" if amounts else "")))
    tasks = api.tasks(customer=external_id)
    overdue = sum(1 for t in tasks if t["due_at"] is not None and t["due_at"] < now)
    rows.append(("Open tasks", f"{len(tasks)}" + (f" ({overdue} overdue)" if overdue else "")))
    for case in api.cases(customer=external_id):
        if case["status"] in OPEN_CASE_STATES:
            rows.append((f"Case #{case['id']}", f"{case['subject']} — {case['status']}, "
                                                 f"{case['priority']}, {sla_state(case, now)}"))
    return Card("Sales and service", rows)


def sla_state(case: dict, now) -> str:
    """The SLA state of an open case, in words (never by colour alone)."""
    if (case["resolution_breached_at"] is not None
            or case["first_response_breached_at"] is not None):
        return "SLA breached"
    responded = case["first_response_at"] is not None
    due = case["resolution_due"] if responded else case["first_response_due"]
    if due is None:
        return "no SLA"
    if due < now:
        return "SLA breached"
    what = "resolution" if responded else "first response"
    return f"{what} due {due:%Y-%m-%d %H:%M} UTC"
