"""operational's part of ``crmkit demo``: opportunities, a follow-up rule, a sweep, headline numbers.

By the time this runs, the demo's interactions have already gone through the
react step: leads were scored, qualified leads assigned to the sales team
with first-contact tasks, and recent complaints opened cases.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from sqlalchemy import func, select

from .tables import cases, leads, opportunities, tasks

DEMO_RULES = [
    {"name": "vip-case-callback", "on": "case.opened",
     "if": {"field": "customer.tags", "op": "contains", "value": "vip"},
     "do": [{"create_task": {"subject": "Call the VIP customer about their case",
                             "due_hours": 4, "team": "support"}}]},
    {"name": "won-thank-you", "on": "stage.changed",
     "if": {"all": [{"field": "payload.entity", "op": "eq", "value": "opportunity"},
                    {"field": "payload.to", "op": "eq", "value": "won"}]},
     "do": [{"queue_message": {"subject": "Thank you for your order",
                                "body": "Thank you for your order: we are on it."}},
            {"add_tag": "won-deal"}]},
]
PRODUCTS = ["Annual plan", "Team licence", "Onboarding package", "Support upgrade", "Hardware bundle"]


def run(crm, rng) -> list[str]:
    """Add opportunities and rules, run the sweep, and report headline numbers."""
    config = dict(crm.plugin_config("operational"))
    config["automation"] = dict(config["automation"], rules=DEMO_RULES)
    config["funnel"] = dict(config["funnel"], renewal_after_days=365)
    crm.plugins.configure("operational", config)
    api = crm.plugin("operational")
    now = crm.clock.now()
    with crm.read() as conn:
        qualified = list(conn.execute(select(leads.c.customer_id, leads.c.owner)
                                      .where(leads.c.stage == "mql").order_by(leads.c.customer_id)))
    stages = api.settings.funnel.stages.opportunity
    for customer_id, owner in rng.sample(qualified, len(qualified) * 2 // 3):
        amount = Decimal(rng.randrange(50_000, 2_500_000)) / 100
        close = (now + dt.timedelta(days=rng.randrange(5, 150))).date()
        opp = api.create_opportunity(customer_id, rng.choice(PRODUCTS), amount, "GBP", owner,
                                     close)
        target = rng.choice(stages + ["won", "lost"])
        if target != stages[0]:
            api.move_opportunity(opp, target)
    sweep = api.sweep()
    return _report(crm, sweep)


def _report(crm, sweep: dict[str, int]) -> list[str]:
    api = crm.plugin("operational")
    with crm.read() as conn:
        by_stage = dict(conn.execute(select(leads.c.stage, func.count()).group_by(leads.c.stage)).all())
        won = conn.execute(select(func.count()).select_from(opportunities)
                           .where(opportunities.c.stage == "won")).scalar_one()
        open_tasks = Counter(dict(conn.execute(select(tasks.c.kind, func.count())
                                               .where(tasks.c.status == "open")
                                               .group_by(tasks.c.kind)).all()))
        open_cases = conn.execute(select(func.count()).select_from(cases)
                                  .where(cases.c.status.in_(("open", "in_progress")))).scalar_one()
    pipeline = api.weighted_pipeline()
    total = sum((r["amount"] for r in pipeline), Decimal(0))
    weighted = sum((r["weighted"] for r in pipeline), Decimal(0))
    funnel = ", ".join(f"{s} {by_stage.get(s, 0)}" for s in ("lead", "mql", "sal", "sql"))
    return [
        f"lead funnel: {funnel}",
        f"open pipeline: {sum(r['opportunities'] for r in pipeline)} opportunities, "
        f"GBP {total:,.2f}, weighted GBP {weighted:,.2f}; {won} won",
        f"open tasks: {sum(open_tasks.values())} ({', '.join(f'{k} {v}' for k, v in sorted(open_tasks.items()))})",
        f"open cases: {open_cases}; SLA breaches found by the sweep: {sweep['sla_breaches']}",
        f"sweep: {sweep['dormant_tasks']} dormant customers got a re-engagement task",
    ]
