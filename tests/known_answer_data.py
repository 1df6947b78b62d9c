"""One hand-built CRM for the known-answer test (tests/test_known_answer_crm.py).

Six customers (A–F) buy from four products with known costs in 20 orders during 2024;
three prospects (L1–L3) are leads that never buy.  Around them, everything the headline
metrics read, written through the public API with the clock set to each moment:

* products TEA (10, cost 6), COF (20, cost 12), MUG (15, cost 5), GRD (50, cost 35),
  imported from a CSV file;
* 20 purchases with line items (one line with a discount of 5);
* 3 service cases (operational: 2 for C, the second opened by C's complaint, 1 for E),
  a task for A and a 40-minute call of C; operational's assignment adds a first-contact
  task for each lead reaching mql or sql (L3, D, L1, L2);
* the funnel: L3 a lead from 1 March; the campaign "autumn" reaches B, D, L1 and L2 on
  20 July, after which L1, L2 and D become leads (source "campaign autumn");
  opportunities of D (won), L1 (won), L2 (lost), A (won, an existing client) and C (lost);
* surveys (trust, satisfaction, commitment, perceived quality and price) on 15 December,
  a complaint of C, web visits of A and E;
* the saved segments "duo" (A and B) and "declining" (relationship phase decline).

Every figure the test expects is worked out by hand in the test from the tables below.
"""

from __future__ import annotations

import datetime as dt
import types
from decimal import Decimal

import crmkit
from crmkit import CRM
from crmkit.clock import FixedClock
from crmkit.plugin import SendResult
from crmkit.worker import WorkContext, collect_jobs

UTC = dt.timezone.utc
AS_OF = dt.datetime(2025, 1, 1, tzinfo=UTC)


def day(month: int, date: int, hour: int = 12) -> dt.datetime:
    """An instant of 2024 (noon by default)."""
    return dt.datetime(2024, month, date, hour, tzinfo=UTC)


PRODUCTS_CSV = """sku,name,category,list_price,unit_cost
TEA,Green tea,drinks/tea,10,6
COF,Coffee beans,drinks/coffee,20,12
MUG,Mug,kitchen/mugs,15,5
GRD,Grinder,kitchen/tools,50,35
"""
PRICE = {"TEA": 10, "COF": 20, "MUG": 15, "GRD": 50}

# customer -> [(when, {sku: qty}, discount on the first line)]
ORDERS = {
    "A": [(day(2, 10), {"GRD": 1, "COF": 1}, 0), (day(4, 15), {"COF": 2, "TEA": 1}, 0),
          (day(8, 20), {"GRD": 1, "COF": 1}, 0), (day(11, 10), {"COF": 2, "TEA": 1}, 0)],
    "B": [(day(3, 5), {"TEA": 2}, 0), (day(8, 10), {"MUG": 2, "TEA": 1}, 0),
          (day(12, 1), {"COF": 1, "MUG": 1}, 0)],
    "C": [(day(2, 1), {"GRD": 2}, 0), (day(5, 20), {"COF": 3}, 0),
          (day(10, 1), {"TEA": 3}, 0)],
    "D": [(day(8, 1, 14), {"MUG": 1, "TEA": 1}, 0), (day(11, 20), {"GRD": 1}, 0),
          (day(12, 20), {"MUG": 2}, 0)],
    "E": [(day(3, 20), {"COF": 1, "TEA": 1}, 0), (day(6, 1), {"MUG": 1}, 0),
          (day(9, 15), {"COF": 1, "MUG": 1}, 5), (day(12, 10), {"TEA": 1}, 0)],
    "F": [(day(1, 20), {"COF": 1}, 0), (day(4, 1), {"TEA": 2, "MUG": 1}, 0),
          (day(6, 20), {"GRD": 1}, 0)],
}

# (customer, when, kind, payload)
OTHER_INTERACTIONS = [
    ("A", day(10, 20), "visit", None),
    ("E", day(2, 15), "visit", None), ("E", day(4, 10), "visit", None),
    ("E", day(5, 5), "visit", None), ("E", day(6, 10), "visit", None),
    ("C", day(10, 5, 9), "complaint", {"text": "late delivery"}),
    ("C", day(10, 5, 10), "call", {"handling_minutes": 40}),
    ("A", day(12, 15), "survey", {"rq_trust": 7, "csat": 5, "rq_commit": 6,
                                  "pv_quality": 5, "pv_price": 2}),
    ("B", day(12, 15), "survey", {"rq_trust": 4, "csat": 4, "rq_commit": 4,
                                  "pv_quality": 4, "pv_price": 4}),
    ("C", day(12, 15), "survey", {"rq_trust": 2, "csat": 2, "rq_commit": 1,
                                  "pv_quality": 2, "pv_price": 5}),
    ("E", day(12, 15), "survey", {"csat": 3, "pv_quality": 3, "pv_price": 1}),
]

CONFIG = {
    "operational": {"funnel": {"new_customers_are_leads": False}},
    "campaigns": {"costs": {"crm_per_month": 20, "acquisition_per_month": 5}},
    "catalogue": {"cost_to_serve": {"cost_per_hour": "30"}},
    "analytical": {
        "survey_items": {"rq_trust": {"min": 1, "max": 7}, "rq_commit": {"min": 1, "max": 7},
                         "pv_quality": {"min": 1, "max": 5}, "pv_price": {"min": 1, "max": 5}},
        "relationship_quality": {"trust": ["rq_trust"], "satisfaction": ["csat"],
                                 "commitment": ["rq_commit"]},
        "perceived_value": {"benefit": ["pv_quality"], "cost": ["pv_price"]},
        "engagement": {"weights": {"purchase": 3, "survey": 1, "visit": 1}},
        "lifecycle": {"model": "relationship"},
        # six customers cannot identify BG/NBD without a penalty (the fit says so)
        "clv": {"penalizer_coef": 0.01},
        # SMART KPIs over 2024, measured at its last second
        "kpis": [{"name": name, "metric": name, "target": 1, "period": "year",
                  "deadline": "2024-12-31T23:59:59Z"}
                 for name in ("revenue", "new_customers", "conversion_rate", "win_rate",
                              "sales_cycle_days", "average_engagement", "relationship_quality",
                              "perceived_value")],
    },
}


class AlwaysSent:
    """An in-process channel ``test``: every message is delivered."""

    name = "test"

    def send(self, batch):
        return [SendResult(message.message_id, "sent", None) for message in batch]


def channel_plugin() -> types.ModuleType:
    module = types.ModuleType("plugin_knownanswer_channel")
    module.PLUGIN = crmkit.PluginInfo(name="testchannel", description="delivers everything")
    module.crmkit_channels = crmkit.hookimpl(lambda crm: [AlwaysSent()])
    return module


def open_crm(url: str, clock: FixedClock) -> CRM:
    """The CRM on ``url`` with the in-process test channel registered."""
    return CRM.open(url, clock=clock, create=True,
                    extra_plugins={"testchannel": channel_plugin()})


def order_row(customer: str, when: dt.datetime, lines: dict[str, int], discount: int) -> dict:
    """A purchase of ``lines`` ({sku: qty}) at list prices, ``discount`` off its first line."""
    items = []
    for index, (sku, qty) in enumerate(lines.items()):
        item = {"sku": sku, "qty": qty, "unit_price": str(PRICE[sku])}
        if index == 0 and discount:
            item["discount"] = str(discount)
        items.append(item)
    amount = sum(PRICE[sku] * qty for sku, qty in lines.items()) - discount
    return {"customer": customer, "occurred_at": when, "kind": "purchase", "channel": "web",
            "amount": Decimal(amount), "payload": {"items": items}}


def run_jobs(crm, clock, *names: str) -> None:
    jobs = {job.name: job for job in collect_jobs(crm)}
    for name in names:
        jobs[name].run(WorkContext(crm, "test", clock.now(), 100))


def build(crm, clock: FixedClock, products_csv) -> None:
    """Write the whole dataset (``products_csv``: a path to write the product file to)."""
    clock.set(day(1, 1, 0))
    crm.plugins.enable("testchannel")
    for name in ("operational", "campaigns", "catalogue", "analytical"):
        crm.plugins.enable(name, CONFIG[name])
    for handle in ("ana", "bo"):
        crm.staff.add(handle, handle.title(), "sales")
    products_csv.write_text(PRODUCTS_CSV, encoding="utf-8")
    crm.plugin("catalogue").import_products(str(products_csv))
    for external_id in ("A", "B", "C", "D", "E", "F", "L1", "L2", "L3"):
        tags = ["newsletter"] if external_id in ("B", "D", "L1", "L2") else []
        crm.customers.add(external_id, f"Customer {external_id}", tags=tags,
                          email=f"{external_id.lower()}@example.com")
        if tags:
            crm.customers.set_consent(external_id, "test", True, "signup form")

    rows = [order_row(customer, when, lines, discount)
            for customer, orders in ORDERS.items() for when, lines, discount in orders]
    rows.sort(key=lambda r: r["occurred_at"])
    for number, row in enumerate(rows, 1):
        row["external_id"] = f"O{number:02d}"
    rows += [{"customer": customer, "occurred_at": when, "kind": kind, "channel": "web",
              "external_id": f"I{n:02d}", **({"payload": payload} if payload else {})}
             for n, (customer, when, kind, payload) in enumerate(OTHER_INTERACTIONS, 1)]
    events = sorted(_events(crm), key=lambda e: e[0])
    # Interactions and the events of the funnel, cases and campaign in time order, each
    # written with the clock at its moment.
    pending = sorted(rows, key=lambda r: r["occurred_at"])
    for when, action in events:
        due = [r for r in pending if r["occurred_at"] <= when]
        pending = pending[len(due):]
        if due:
            clock.set(due[-1]["occurred_at"])
            crm.interactions.record_many(due)
        clock.set(when)
        action()
    clock.set(AS_OF)
    if pending:
        crm.interactions.record_many(pending)
    analytical = crm.plugin("analytical")
    analytical.save_segment("duo", {"field": "external_id", "op": "in", "value": ["A", "B"]})
    analytical.save_segment("declining", {"field": "lifecycle", "op": "eq", "value": "decline"})


def _events(crm):
    operational = crm.plugin("operational")
    campaigns = crm.plugin("campaigns")
    opportunity: dict[str, int] = {}

    def lead(customer):
        return lambda: crm.customers.update(customer, lifecycle_stage="lead")

    def open_opportunity(customer, amount, owner, close, stage="qualification"):
        def act():
            opportunity[customer] = operational.create_opportunity(
                customer, f"Deal {customer}", amount, owner=owner, expected_close=close,
                stage=stage)
        return act

    def move(customer, stage):
        return lambda: operational.move_opportunity(opportunity[customer], stage)

    def campaign_add():
        campaigns.add("autumn", channel="test", template="Autumn offers, {{ name }}",
                      condition={"field": "tags", "op": "contains", "value": "newsletter"},
                      cost="30", cost_per_message="0.50", attribution_days=30, seed=1)

    def campaign_send():
        campaigns.run("autumn")
        run_jobs(crm, crm.clock, "campaigns.render", "messages.send")

    return [
        (day(3, 1), lead("L3")),
        (day(3, 10), lambda: operational.set_lead_stage("L3", "mql")),
        (day(6, 1, 15), lambda: operational.open_case("C", "Broken grinder")),
        (day(7, 15), campaign_add),
        (day(7, 20), campaign_send),
        (day(7, 22), lead("L1")),
        (day(7, 22, 13), lead("L2")),
        (day(7, 25), lead("D")),
        (day(7, 28), open_opportunity("D", "25", "ana", dt.date(2024, 8, 15))),
        (day(7, 30), move("D", "proposal")),
        (day(8, 1), move("D", "won")),
        (day(8, 5), open_opportunity("L1", "400", "bo", dt.date(2024, 11, 30))),
        (day(8, 10, 13), open_opportunity("L2", "200", "bo", dt.date(2024, 9, 30))),
        (day(9, 2), open_opportunity("A", "1000", "ana", dt.date(2024, 10, 31))),
        (day(9, 20), move("A", "negotiation")),
        (day(9, 20, 15), lambda: operational.open_case("E", "Wrong parcel")),
        (day(9, 25), move("L2", "lost")),
        (day(10, 15), move("A", "won")),
        (day(10, 20, 13), move("L1", "commit")),
        (day(11, 5), open_opportunity("C", "150", "ana", dt.date(2024, 12, 15))),
        (day(11, 6), lambda: operational.create_task("A", "Call about the grinder", None,
                                                     day(11, 8))),
        (day(11, 10), move("L1", "won")),
        (day(12, 1, 13), move("C", "lost")),
    ]
