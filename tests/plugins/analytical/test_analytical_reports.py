"""Cohort matrix, Pareto, KPIs and lifecycle stages on small hand-built histories."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from analytical_support import at, days_ago, ids, record, row
from crmkit_analytical.kpis import attainment, status


def test_cohort_matrix_by_hand(crm):
    crm.plugins.enable("analytical")
    record(crm, [
        row("A", "2024-11-05", amount=50), row("A", "2024-12-10", amount=30),
        row("A", "2025-01-01T09:00", amount=20),
        row("B", "2024-11-20", amount=100), row("B", "2024-12-15", "refund", amount=40),
        row("C", "2024-12-02", amount=70), row("C", "2024-12-20", amount=30),
        row("D", "2024-10-01", amount=10), row("D", "2024-11-10", amount=10),  # older cohort
        row("E", "2025-01-01T08:00", amount=10),
    ])
    cells = crm.plugin("analytical").cohorts(cohorts=3, months=2)
    got = [(c.cohort, c.size, c.month, c.buyers, c.share, c.revenue_per_member) for c in cells]
    assert got == [
        ("2024-11", 2, 0, 2, 100.0, Decimal("75.00")),   # A 50 + B 100
        ("2024-11", 2, 1, 1, 50.0, Decimal("-5.00")),    # A buys 30, B refunds 40
        ("2024-11", 2, 2, 1, 50.0, Decimal("10.00")),    # A 20
        ("2024-12", 1, 0, 1, 100.0, Decimal("100.00")),  # C 70 + 30
        ("2024-12", 1, 1, 0, 0.0, Decimal("0.00")),
        ("2025-01", 1, 0, 1, 100.0, Decimal("10.00")),   # E
    ]


def pareto_history(crm):
    record(crm, [row("P1", days_ago(5), amount=500), row("P2", days_ago(5), amount=250),
                 row("P2", days_ago(4), "refund", amount=50), row("P3", days_ago(5), amount=150),
                 row("P4", days_ago(5), amount=100), row("P5", days_ago(5), amount=50)])


def test_pareto_by_hand(crm):
    crm.plugins.enable("analytical")
    pareto_history(crm)
    result = crm.plugin("analytical").pareto()
    # net spends 500, 200, 150, 100, 50 = 1000; top ⌈0.2 · 5⌉ = 1 customer: 50 %;
    # cumulative 500, 700, 850 ≥ 800 at k = 3: 60 % of customers
    assert (result.customers, result.revenue) == (5, Decimal("1000.00"))
    assert (result.top_customers, result.top_revenue_share) == (1, 50.0)
    assert (result.customers_for_target, result.customer_share_for_target) == (3, 60.0)


def test_pareto_top_share_default_changes_the_answer(crm):
    crm.plugins.enable("analytical", {"pareto": {"top_share": 0.4, "revenue_share": 0.5}})
    pareto_history(crm)
    result = crm.plugin("analytical").pareto()
    assert (result.top_customers, result.top_revenue_share) == (2, 70.0)
    assert (result.customers_for_target, result.customer_share_for_target) == (1, 20.0)


def test_kpi_attainment_and_status_rules():
    assert attainment(90, 100, "up") == 0.9 and status(0.9, False) == "at_risk"
    assert attainment(50, 40, "down") == 0.8 and status(0.8, False) == "off_track"
    assert status(1.0, False) == "on_track" and status(0.89, False) == "off_track"
    assert status(1.0, True) == "met" and status(0.99, True) == "missed"
    assert status(None, False) == "no_data" and status(None, True) == "missed"


def test_kpis_measured_for_the_period_to_date(crm):
    kpis = [{"name": "rev-a", "metric": "revenue", "target": 100, "deadline": "2025-06-30"},
            {"name": "rev-b", "metric": "revenue", "target": 80, "deadline": "2025-06-30",
             "owner": "ana"},
            {"name": "rev-c", "metric": "revenue", "target": 200, "deadline": "2025-06-30"},
            {"name": "dec", "metric": "revenue", "target": 40, "deadline": "2024-12-31"},
            {"name": "dec-down", "metric": "revenue", "target": 40, "direction": "down",
             "deadline": "2024-12-31"},
            {"name": "nps", "metric": "nps", "target": 50, "period": "quarter",
             "deadline": "2025-03-31"}]
    crm.plugins.enable("analytical", {"kpis": kpis})
    record(crm, [row("K1", "2024-12-10", amount=50), row("K1", "2025-01-01T09:00", amount=90)])
    measured = crm.plugin("analytical").kpis()
    got = {k.name: (k.value, k.attainment, k.status) for k in measured}
    assert {k.name: k.measure for k in measured if k.name in ("rev-a", "nps")} == {
        "rev-a": "revenue", "nps": None}                 # nps sums no money
    assert got["rev-a"] == (90.0, 0.9, "at_risk")      # January to date: 90 of 100
    assert got["rev-b"] == (90.0, 1.125, "on_track")
    assert got["rev-c"] == (90.0, 0.45, "off_track")
    assert got["dec"] == (50.0, 1.25, "met")           # measured at the deadline: December
    assert got["dec-down"] == (50.0, 0.8, "missed")    # target / value
    assert got["nps"] == (None, None, "no_data")


def test_average_clv_without_a_fit_is_no_data_with_the_reason(crm, run_cli):
    """No repeat purchases: the CLV models cannot be fitted; the other KPIs are still measured."""
    kpis = [{"name": "clv", "metric": "average_clv", "target": 100, "deadline": "2025-06-30"},
            {"name": "rev", "metric": "revenue", "target": 100, "deadline": "2025-06-30"}]
    crm.plugins.enable("analytical", {"kpis": kpis})
    record(crm, [row("K1", "2024-12-10", amount=50), row("K2", "2025-01-01T09:00", amount=90)])
    reason = ("CLV not fitted: BG/NBD fit needs repeat purchases; none of the 2 customers has "
              "bought on more than one day")
    clv, rev = crm.plugin("analytical").kpis()
    assert (clv.value, clv.attainment, clv.status, clv.note) == (None, None, "no_data", reason)
    assert (rev.value, rev.status, rev.note) == (90.0, "at_risk", None)
    code, out, err = run_cli("analytical", "kpis", "--as-of", "2025-01-01T12:00:00Z", "--format", "json")
    assert code == 0, err
    shown = {k["name"]: k for k in json.loads(out)}
    assert shown["clv"]["status"] == "no_data" and shown["clv"]["note"] == reason
    assert shown["rev"]["value"] == 90.0
    outcome = crm.plugin("analytical").clv_outcome()
    assert outcome.values == {} and outcome.missing == reason.removeprefix("CLV not fitted: ")
    assert crm.plugin("analytical").clv_missing() == outcome.missing


def lifecycle_history(crm):
    record(crm, [row("P", days_ago(3), "visit"),
                 row("N", days_ago(30), amount=10),
                 row("A", days_ago(200), amount=10), row("A", days_ago(60), amount=10),
                 row("W", days_ago(400), amount=10), row("W", days_ago(20), amount=10),
                 row("R", days_ago(120), amount=10),
                 row("L", days_ago(200), amount=10)])


def test_lifecycle_stages_by_hand(crm, clock):
    crm.plugins.enable("analytical")
    lifecycle_history(crm)
    names = {v: k for k, v in ids(crm).items()}
    stages = {names[c]: s for c, s in crm.plugin("analytical").lifecycle_stages().items()}
    assert stages == {"P": "prospect", "N": "new", "A": "active", "W": "won_back",
                      "R": "at_risk", "L": "lapsed"}
    one = crm.plugin("analytical").lifecycle_stage  # one customer's, as on the 360 card
    assert {name: one(name) for name in stages} == stages
    assert one("W", as_of=clock.now() - dt.timedelta(days=100)) == "lapsed"  # before coming back


def test_lifecycle_thresholds_change_the_stages(crm):
    crm.plugins.enable("analytical", {"lifecycle": {"new_days": 10, "active_days": 130,
                                                    "lapsed_days": 390}})
    lifecycle_history(crm)
    names = {v: k for k, v in ids(crm).items()}
    stages = {names[c]: s for c, s in crm.plugin("analytical").lifecycle_stages().items()}
    # N is past new (30 > 10); R within active (120 <= 130); W's gap 380 <= 390: active; L at risk
    assert stages == {"P": "prospect", "N": "active", "A": "active", "W": "active",
                      "R": "active", "L": "at_risk"}


def test_lifecycle_update_stores_stages_and_emits_changes(crm, clock):
    crm.plugins.enable("analytical")
    lifecycle_history(crm)
    api = crm.plugin("analytical")
    first = api.update_lifecycle()
    assert first.changed == 6 and first.counts["won_back"] == 1
    assert api.update_lifecycle().changed == 0
    clock.advance(days=100)  # N's first purchase is now 130 days ago: at risk
    later = api.update_lifecycle()
    events = crm.events.list(type="lifecycle.changed")
    n_id = ids(crm)["N"]
    moved = [e for e in events if e.customer_id == n_id and e.payload["from"] == "new"]
    assert [e.payload["to"] for e in moved] == ["at_risk"]
    assert later.changed == len([e for e in events if e.payload["from"] is not None])
    # 100 days on: N 130, A 160, W 120 days since the last purchase (at risk); R 220, L 300 lapsed
    assert later.counts == {"prospect": 1, "new": 0, "won_back": 0, "active": 0, "at_risk": 3,
                            "lapsed": 2}
    assert later.changed == 4  # N, A, W to at_risk; R to lapsed (L stays lapsed)


BOUNDARY_INSTANTS = ["2024-05-31T23:59:59.999600", "2024-05-31T23:59:59.999999",
                     "2024-06-01T00:00:00", "2024-06-01T00:00:00.000400",
                     "1969-12-31T23:59:59.999999", "1969-12-31T00:00:00.000001",
                     "1969-12-31T12:00", "1970-01-01T00:00", "1900-02-28T23:59:59.9996",
                     "1900-03-01T00:00", "1900-01-01T00:00", "2000-02-29T23:59:59.9999"]


def test_day_and_month_numbers_floor_exactly_at_midnight_and_before_1970(crm):
    """The SQL day/month number of each instant is its UTC calendar date's, as in Python."""
    from sqlalchemy import select

    from crmkit.tables import interactions
    from crmkit_analytical.sql import day_number, day_of, month_number, month_of

    moments = [at(text) for text in BOUNDARY_INSTANTS]
    record(crm, [row(f"B{i}", moment, amount=1) for i, moment in enumerate(moments)])
    I = interactions.c
    with crm.read() as conn:
        got = {moment: (day, month) for moment, day, month in conn.execute(
            select(I.occurred_at, day_number(I.occurred_at), month_number(I.occurred_at)))}
    assert got == {m: (day_of(m), month_of(m)) for m in moments}
    assert got[at("2024-05-31T23:59:59.999600")] == (19874, 2024 * 12 + 4)
    assert got[at("1969-12-31T00:00:00.000001")] == (-1, 1969 * 12 + 11)


def test_funnel_follows_each_customer_from_lead_to_cash(crm, clock):
    """Leads and opportunities of one customer are one flow: every conversion is at most 100 %."""
    import datetime as dt

    kpis = [{"name": name, "metric": name, "target": 100, "period": "year",
             "deadline": "2024-12-31"} for name in ("conversion_rate", "win_rate")]
    crm.plugins.enable("analytical", {"kpis": kpis, "funnel": {
        "stages": ["lead", "sql", "qualification", "proposal", "won"], "won_stage": "won",
        "lost_stages": ["lost"]}})
    crm.customers.add_many([{"external_id": f"C{i}"} for i in range(1, 7)])
    cid = ids(crm)
    start = at("2024-11-01T09:00")
    moves = [  # (day, customer, entity, record, from, to)
        (0, "C1", "lead", "C1", None, "lead"), (2, "C1", "lead", "C1", "lead", "sql"),
        (3, "C1", "opportunity", 101, None, "qualification"),
        (5, "C1", "opportunity", 101, "qualification", "proposal"),
        (9, "C1", "opportunity", 101, "proposal", "won"),
        (0, "C2", "lead", "C2", None, "lead"), (1, "C2", "lead", "C2", "lead", "sql"),
        (4, "C2", "opportunity", 102, None, "qualification"),
        (6, "C2", "opportunity", 102, "qualification", "lost"),
        (7, "C2", "opportunity", 103, None, "qualification"),  # a second, still open
        (1, "C3", "opportunity", 104, None, "qualification"),  # an existing client: no lead
        (2, "C3", "opportunity", 104, "qualification", "proposal"),
        (0, "C4", "lead", "C4", None, "lead"),
        (0, "C5", "lead", "C5", None, "lead"), (3, "C5", "lead", "C5", "lead", "sql"),
        (2, "C6", "opportunity", 105, None, "qualification"),  # an existing client who wins
        (8, "C6", "opportunity", 105, "qualification", "won"),
        (1, None, "opportunity", 900, None, "proposal"),  # no customer: a flow of its own
    ]
    for day, customer, entity, record_id, old, new in sorted(moves, key=lambda m: m[0]):
        clock.set(start + dt.timedelta(days=day))
        with crm.transaction() as tx:
            tx.emit("stage.changed", cid.get(customer), {
                "entity": entity, "record_id": cid.get(record_id, record_id), "from": old,
                "to": new, "owner": "ana", "amount": None, "currency": None}, source="operational")
    api = crm.plugin("analytical")
    steps, outcomes = api.funnel(at("2025-01-01"))
    # flows: C1 lead..won, C2 lead..qualification (lost one opportunity), C3 qualification..
    # proposal, C4 lead, C5 lead..sql, C6 qualification..won, the customer-less one at proposal;
    # stays (per lead or opportunity): lead 2, 1, 3; qualification 2, 2, 1, 6; proposal 4
    assert [(s.stage, s.reached, s.conversion, s.median_days) for s in steps] == [
        ("lead", 4, 75.0, 2.0),            # C1 C2 C5 of C1 C2 C4 C5 went on
        ("sql", 3, 66.7, None),            # C1 C2 of C1 C2 C5 (as separate counts: 5/3 = 167 %)
        ("qualification", 4, 75.0, 2.0),   # C1 C3 C6 of C1 C2 C3 C6
        ("proposal", 4, 50.0, 4.0),        # C1 C6 of C1 C3 C6 and the customer-less flow
        ("won", 2, None, None)]
    assert [(o.records, o.won, o.lost, o.win_rate) for o in outcomes] == [(7, 2, 1, 66.7)]
    # C1 of the four flows through lead reaches won (C6 never was a lead)
    assert {k.name: k.value for k in api.kpis(at("2025-01-01"))} == {
        "conversion_rate": 25.0, "win_rate": 66.7}
