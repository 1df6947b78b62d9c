"""Customer equity = Σ CLV of current customers + prospects × conversion × new-customer value."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from crmkit_analytical import equity

from analytical_simulate import purchase_history
from analytical_support import AS_OF, days_ago, ids, record, row


def small_base(crm, config):
    crm.plugins.enable("analytical", config)
    record(crm, [row("A", days_ago(400), amount=10), row("B", days_ago(100), amount=10),
                 row("C", days_ago(30), amount=10), row("E", days_ago(20), amount=10)])
    crm.customers.add_many([{"external_id": p} for p in ("P1", "P2", "P3")])
    crm.customers.erase("E")
    return ids(crm)


def test_equity_by_hand(crm):
    cid = small_base(crm, {"equity": {"conversion_probability": 0.1}})
    clv = {cid["A"]: Decimal(100), cid["B"]: Decimal(200), cid["C"]: Decimal(400),
           cid["E"]: Decimal(999)}
    with crm.read() as conn:
        got = equity.compute(conn, crm.plugin("analytical").settings, AS_OF, clv)
    # current: 100 + 200 + 400 (E is erased); new customers: B and C bought first within
    # 365 days -> (200 + 400) / 2 = 300; prospects P1..P3: 3 x 0.1 x 300 = 90
    assert (got.customers, got.current_value, got.prospects, got.conversion_probability,
            got.conversion_source, got.new_customer_value, got.new_customers_counted,
            got.prospect_value, got.equity, got.note) == (
        3, Decimal("700.00"), 3, 0.1, "config", Decimal("300.00"), 2, Decimal("90.00"),
        Decimal("790.00"), None)


def test_without_funnel_flows_the_prospects_count_zero_and_the_note_says_why(crm):
    cid = small_base(crm, {})
    with crm.read() as conn:
        got = equity.compute(conn, crm.plugin("analytical").settings, AS_OF,
                             {cid["A"]: Decimal(50)})
    # only A has a CLV here and A's first purchase is 400 days old: valued on all (A)
    assert (got.conversion_probability, got.conversion_source, got.new_customer_value,
            got.new_customers_counted, got.prospect_value, got.equity) == (
        None, "funnel", Decimal("50.00"), 0, Decimal("0.00"), Decimal("50.00"))
    assert got.note.startswith("no funnel flow to estimate conversion from")


def test_conversion_from_the_funnel(crm, clock):
    cid = small_base(crm, {"equity": {"conversion_probability": None}})
    start = AS_OF - dt.timedelta(days=30)
    for number, (customer, stages) in enumerate(
            [("P1", ["lead", "won"]), ("P2", ["lead"]), ("P3", ["lead"]), ("A", ["lead"])]):
        for step, stage in enumerate(stages):
            clock.set(start + dt.timedelta(days=step))
            with crm.transaction() as tx:
                tx.emit("stage.changed", cid[customer], {
                    "entity": "lead", "record_id": str(number), "from": None if step == 0
                    else stages[step - 1], "to": stage, "owner": "ana"})
    clock.set(AS_OF)
    with crm.read() as conn:
        probability, source = equity.conversion(conn, crm.plugin("analytical").settings, AS_OF)
    assert (probability, source) == (0.25, "funnel")  # 1 of the 4 flows through lead is won


def test_equity_through_the_api_and_cli_uses_the_fitted_clv(crm, run_cli):
    crm.plugins.enable("analytical", {"equity": {"conversion_probability": 0.2}})
    rows, _, _ = purchase_history(customers=120)
    record(crm, rows)
    crm.customers.add_many([{"external_id": f"P{i}"} for i in range(10)])
    api = crm.plugin("analytical")
    got = api.customer_equity()
    clv = api.clv_by_customer()
    with crm.read() as conn:
        recent = equity.recent_first_buyers(conn, crm.plugin("analytical").settings, AS_OF)
    basis = [clv[c] for c in recent] or list(clv.values())
    expected_new = sum(basis) / len(basis)
    assert got.current_value == sum(clv.values()).quantize(Decimal("0.01"))
    assert got.prospects == 10
    assert got.prospect_value == (10 * Decimal("0.2") * expected_new).quantize(Decimal("0.01"))
    assert got.equity == (sum(clv.values()) + 10 * Decimal("0.2") * expected_new).quantize(
        Decimal("0.01"))
    code, out, _ = run_cli("analytical", "equity", "--as-of", AS_OF.isoformat(),
                           "--format", "json")
    assert code == 0
    shown = json.loads(out)
    assert (Decimal(str(shown["equity"])), shown["prospects"]) == (got.equity, 10)


def test_equity_refuses_when_clv_cannot_be_fitted(crm):
    from crmkit_analytical.errors import ModelFitError

    crm.plugins.enable("analytical")
    record(crm, [row("A", days_ago(5), amount=10)])
    with pytest.raises(ModelFitError, match="repeat purchases"):
        crm.plugin("analytical").customer_equity()


def test_customer_equity_is_a_smart_kpi(crm):
    kpi = {"name": "equity", "metric": "customer_equity", "target": 1000,
           "deadline": "2025-06-30"}
    crm.plugins.enable("analytical", {"kpis": [kpi], "equity": {"conversion_probability": 0.2}})
    rows, _, _ = purchase_history(customers=120)
    record(crm, rows)
    api = crm.plugin("analytical")
    [status] = api.kpis()
    assert status.value == float(api.customer_equity().equity)


def test_the_equity_panel_uses_the_latest_stored_run_and_never_fits(crm):
    from crmkit_analytical import dashboard

    crm.plugins.enable("analytical", {"equity": {"conversion_probability": 0.2}})
    rows, _, _ = purchase_history(customers=120)
    record(crm, rows)
    api = crm.plugin("analytical")
    empty = dashboard.customer_equity(crm, api, AS_OF)
    assert empty.rows == () and empty.note.startswith("No stored CLV run yet")
    assert api.last_clv_run() is None  # the page view fitted nothing
    got = api.customer_equity()  # fits and stores a run at AS_OF
    shown = dashboard.customer_equity(crm, api, AS_OF)
    assert shown.rows == (("Current customers' CLV", got.current_value),
                          ("Prospects' expected value", got.prospect_value),
                          ("Customer equity", got.equity))
