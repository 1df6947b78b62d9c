"""SMART KPIs on margin and profit (the KPI's ``measure``), worked out by hand.

Products: BREAD-S 10/4, TEA 5/1 (list price / unit cost); cost to serve 30 an hour of
handling time.

    C1  Jan 5   2 TEA          revenue 10, margin 8
    C2  Jan 10  BREAD-S        revenue 10, margin 6
    C1  Feb 3   BREAD-S + TEA  revenue 15, margin 6 + 4 = 10
    C2  Feb 8   3 TEA          revenue 15, margin 12
    C2  Feb 9   a call of 20 minutes: cost to serve 10

Measured on 10 Feb (noon), monthly, February to date: revenue 30, margin 22, profit 12;
per purchase (2): 15, 11, 6.  Sales growth over 1–10 Jan (noon; both January purchases):
revenue 30 vs 20 = +50 %; margin 22 vs 14 = +57.1 %; profit 12 vs 14 = −14.3 %.
"""

from __future__ import annotations

import json

import pytest
from catalogue_support import at, line, order

from crmkit.errors import ConfigError

MOMENT = at(2025, 2, 10)


def build(crm, catalogue):
    catalogue({"cost_to_serve": {"cost_per_hour": "30"}}, customers=("C1", "C2"))
    crm.interactions.record_many([
        order("C1", at(2025, 1, 5), line("TEA", 2, 5)),
        order("C2", at(2025, 1, 10), line("BREAD-S", 1, 10)),
        order("C1", at(2025, 2, 3), line("BREAD-S", 1, 10), line("TEA", 1, 5)),
        order("C2", at(2025, 2, 8), line("TEA", 3, 5))])
    crm.interactions.record("C2", at(2025, 2, 9), kind="call",
                            payload={"handling_minutes": 20})


def kpi(metric, measure, target=20):
    return {"name": f"{metric} on {measure}", "metric": metric, "measure": measure,
            "target": target, "deadline": "2025-12-31"}


def test_money_kpis_on_revenue_margin_and_profit(crm, catalogue, run_cli):
    build(crm, catalogue)
    crm.plugins.enable("analytical", {"kpis": [
        kpi(metric, measure) for metric in ("revenue", "average_order_value", "sales_growth")
        for measure in ("revenue", "margin", "profit")]})
    got = {(k.metric, k.measure): k.value for k in crm.plugin("analytical").kpis(MOMENT)}
    assert got == {
        ("revenue", "revenue"): 30.0, ("revenue", "margin"): 22.0, ("revenue", "profit"): 12.0,
        ("average_order_value", "revenue"): 15.0, ("average_order_value", "margin"): 11.0,
        ("average_order_value", "profit"): 6.0,
        ("sales_growth", "revenue"): 50.0, ("sales_growth", "margin"): 57.1,
        ("sales_growth", "profit"): -14.3}
    [margin] = [k for k in crm.plugin("analytical").kpis(MOMENT)
                if k.name == "revenue on margin"]
    assert (margin.attainment, margin.status) == (1.1, "on_track")  # 22 / 20
    code, out, err = run_cli("analytical", "kpis", "--as-of", "2025-02-10T12:00:00Z",
                             "--format", "json")
    assert code == 0, err
    assert {(r["name"], r["measure"], r["value"]) for r in json.loads(out)
            if r["metric"] == "revenue"} == {("revenue on revenue", "revenue", 30.0),
                                             ("revenue on margin", "margin", 22.0),
                                             ("revenue on profit", "profit", 12.0)}


def test_a_measure_is_checked_when_the_configuration_is_stored(crm, catalogue):
    build(crm, catalogue)
    with pytest.raises(ConfigError, match=r"^/kpis/0/measure: 'margin' applies to the money "
                       r"metrics only \(average_order_value, revenue, sales_growth\), not to "
                       r"'nps'$"):
        crm.plugins.enable("analytical", {"kpis": [kpi("nps", "margin")]})
    with pytest.raises(ConfigError, match=r"/kpis/0/measure.*'volume' is not one of"):
        crm.plugins.enable("analytical", {"kpis": [kpi("revenue", "volume")]})
    assert "analytical" not in crm.enabled_plugins()
    crm.plugins.disable("catalogue")
    with pytest.raises(ConfigError, match=r"^/kpis/0/measure: no enabled plugin provides "
                       r"'profit' per customer \(revenue is built in; margin and profit come "
                       r"with the catalogue plugin\)$"):
        crm.plugins.enable("analytical", {"kpis": [kpi("revenue", "profit")]})
    assert "analytical" not in crm.enabled_plugins()


def test_a_kpi_whose_measure_is_gone_has_no_value_and_says_why(crm, catalogue):
    build(crm, catalogue)
    crm.plugins.enable("analytical", {"kpis": [kpi("revenue", "margin"),
                                               kpi("revenue", "revenue")]})
    crm.plugins.disable("catalogue")
    on_margin, on_revenue = crm.plugin("analytical").kpis(MOMENT)
    assert (on_margin.value, on_margin.status, on_margin.note) == (
        None, "no_data", "measure: no enabled plugin provides 'margin' per customer (revenue "
                         "is built in; margin and profit come with the catalogue plugin)")
    assert on_revenue.value == 30.0
