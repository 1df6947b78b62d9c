"""Sales-cycle length and forecast accuracy on a hand-built funnel (issue 24 section 3)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crmkit.errors import ValidationError

MANUAL = {"assignment": {"assign_leads_on": "never"}}
UTC = dt.timezone.utc


@pytest.fixture
def funnel(crm, clock, operational, staff):
    """Day 0 (2025-01-01 12:00): C1's lead (a new prospect); C2 and C3 are customers: O2 (ben, 500, close 01-20) for C2 without a lead;
    O3 (ana, 2000, close 02-10).  Day 10: O1 (ana, 1000, close 02-15) for C1.  Day 15: O2 won.
    Day 20: O3 to commit (90 %).  Day 40 (02-10): O1 won.  Day 45: O3 lost."""
    api = operational(MANUAL)
    staff("sales", "ana", "ben")
    crm.customers.add("C1")  # a new prospect enters the funnel as a lead
    for name in ("C2", "C3"):
        crm.customers.add(name, lifecycle_stage="customer")  # existing customers: no lead
    o2 = api.create_opportunity("C2", "Starter", "500", owner="ben",
                                expected_close=dt.date(2025, 1, 20))
    o3 = api.create_opportunity("C3", "Fleet", "2000", owner="ana",
                                expected_close=dt.date(2025, 2, 10))
    clock.advance(days=10)
    o1 = api.create_opportunity("C1", "Pilot", "1000", owner="ana",
                                expected_close=dt.date(2025, 2, 15))
    clock.advance(days=5)
    api.move_opportunity(o2, "won")
    clock.advance(days=5)
    api.move_opportunity(o3, "commit")
    clock.advance(days=20)
    api.move_opportunity(o1, "won")
    clock.advance(days=5)
    api.move_opportunity(o3, "lost")
    return api


def test_sales_cycle_from_lead_or_opportunity_to_won(funnel):
    rows = {r["customer"]: (r["owner"], r["from"], r["days"]) for r in funnel.sales_cycles()}
    # C1: lead day 0 -> won day 40; C2 has no lead: its opportunity day 0 -> won day 15;
    # C3's opportunity was lost: no cycle
    assert rows == {"C1": ("ana", "lead", 40.0), "C2": ("ben", "opportunity", 15.0)}
    [overall] = funnel.sales_cycle()
    # [15, 40]: median 27.5; inclusive quartiles 15 + 0.25 x 25 = 21.25 and 33.75
    assert overall == {"won": 2, "median_days": 27.5, "p25_days": 21.25, "p75_days": 33.75,
                       "mean_days": 27.5, "min_days": 15.0, "max_days": 40.0,
                       "days_0-30": 1, "days_31-60": 1, "days_61-90": 0, "days_91-180": 0,
                       "days_181+": 0}
    by_owner = {r["owner"]: (r["won"], r["median_days"]) for r in funnel.sales_cycle(by="owner")}
    assert by_owner == {"ana": (1, 40.0), "ben": (1, 15.0)}
    since = dt.datetime(2025, 2, 1, tzinfo=UTC)
    assert [r["customer"] for r in funnel.sales_cycles(since=since)] == ["C1"]
    with pytest.raises(ValidationError, match="by: 'stage' is not one of owner"):
        funnel.sales_cycle(by="stage")


def test_forecast_accuracy_by_hand(funnel):
    result = funnel.forecast_accuracy(as_of=dt.datetime(2025, 3, 1, tzinfo=UTC), months=2)
    # January: nothing was open at 01-01 00:00 (forecast 0); O2 won 500: 100 % off.
    # February: at 02-01 O1 (qualification 10 % x 1000 = 100) and O3 (commit 90 % x 2000 =
    # 1800) were expected to close in February: 1900; O1 won 1000: |1000 - 1900| = 90 % off.
    assert [(r["month"], r["forecast"], r["actual"], r["error"], r["abs_percent_error"])
            for r in result["months"]] == [
        ("2025-01", Decimal(0), Decimal(500), Decimal(500), 100.0),
        ("2025-02", Decimal(1900), Decimal(1000), Decimal(-900), 90.0)]
    # MAPE (100 + 90) / 2 = 95; bias ((0 - 500) + (1900 - 1000)) / 1500 = +26.67 %
    assert result["summary"] == [{"currency": "USD", "months": 2, "mape": 95.0, "bias": 26.67}]
    with pytest.raises(ValidationError, match="months: 0 must be at least 1"):
        funnel.forecast_accuracy(months=0)


def test_cli_cycle_and_forecast_accuracy(funnel, run_cli):
    code, out, _ = run_cli("operational", "cycle", "--by", "owner", "--format", "csv")
    assert code == 0
    assert out.splitlines()[1:] == ["ana,1,40.0,40.0,40.0,40.0,40.0,40.0,0,1,0,0,0",
                                    "ben,1,15.0,15.0,15.0,15.0,15.0,15.0,1,0,0,0,0"]
    code, out, _ = run_cli("operational", "cycle", "--by", "source", "--format", "csv")
    # no plugin names sources here: both cycles fall under (none), median (15 + 40) / 2
    assert code == 0 and out.splitlines()[1:] == [
        "(none),2,27.5,21.25,33.75,27.5,15.0,40.0,1,1,0,0,0"]
    code, out, _ = run_cli("operational", "forecast-accuracy", "--months", "2", "--as-of",
                           "2025-03-01", "--format", "json")
    assert code == 0 and '"mape": 95.0' in out and '"bias": 26.67' in out
    code, out, _ = run_cli("operational", "sources", "--format", "csv")
    # only C1 came in as a lead (C2 and C3 were customers already): won O1, 1000 USD
    assert code == 0 and out.splitlines() == [
        "source,leads,converted,conversion,won,revenue", "(none),1,1,100.0,1,1000.00 USD"]


def test_plots_of_the_cycle_forecast_accuracy_and_sources(funnel, run_cli, tmp_path,
                                                           drawn_charts):
    cycle = tmp_path / "cycle.png"
    code, _, err = run_cli("operational", "cycle", "--by", "owner", "--format", "csv",
                           "--plot", str(cycle))
    assert code == 0 and err == f"chart written to {cycle}\n"
    assert cycle.read_bytes()[:4] == b"\x89PNG"
    # one series per owner over the buckets: ana's 40 days, ben's 15
    assert drawn_charts.bars(cycle) == [0, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    assert drawn_charts.legend(cycle) == ["ana: median 40.0 days", "ben: median 15.0 days"]
    assert drawn_charts.ticks(cycle) == ["0-30 days", "31-60 days", "61-90 days",
                                         "91-180 days", "181+ days"]
    forecast = tmp_path / "forecast.svg"
    code, _, err = run_cli("operational", "forecast-accuracy", "--months", "2", "--as-of",
                           "2025-03-01", "--plot", str(forecast))
    assert code == 0 and err == f"chart written to {forecast}\n"
    assert b"<svg" in forecast.read_bytes()[:400]
    assert drawn_charts.lines(forecast) == {"forecast USD": [0.0, 1900.0],
                                            "actual USD": [500.0, 1000.0]}
    assert drawn_charts.ticks(forecast) == ["2025-01", "2025-02"]
    sources = tmp_path / "sources.png"
    code, _, err = run_cli("operational", "sources", "--format", "json", "--plot", str(sources))
    assert code == 0 and err == f"chart written to {sources}\n"
    assert (drawn_charts.bars(sources), drawn_charts.ticks(sources)) == ([1, 1], ["(none)"])


@pytest.mark.parametrize("command, reason", [
    (["cycle"], "no opportunity won up to --as-of"),
    (["forecast-accuracy"], "no forecast or won amount in the months"),
    (["sources"], "no lead up to --as-of"),
])
def test_plots_of_nothing_write_no_file_and_say_so(operational, run_cli, tmp_path, command,
                                                   reason):
    pytest.importorskip("matplotlib")
    operational()
    target = tmp_path / "chart.png"
    code, _, err = run_cli("operational", *command, "--plot", str(target))
    assert code == 0 and err == f"nothing to plot: {reason}; no chart written to {target}\n"
    assert not target.exists()
    code, _, err = run_cli("operational", *command, "--plot", str(tmp_path / "chart.pdf"))
    assert (code, err) == (1, f"error: --plot {tmp_path / 'chart.pdf'}: the file name must "
                              "end in .png or .svg\n")


def test_median_sales_cycle_is_a_smart_kpi(crm, funnel):
    kpi = {"name": "cycle", "metric": "sales_cycle_days", "target": 30, "direction": "down",
           "period": "quarter", "deadline": "2025-12-31"}
    crm.plugins.enable("analytical", {"kpis": [kpi]})
    [status] = crm.plugin("analytical").kpis()
    # Q1 to date (the clock is at day 45): cycles of 15 and 40 days -> median 27.5
    assert (status.value, status.attainment, status.status) == (27.5, round(30 / 27.5, 4),
                                                                "on_track")
    crm.plugins.disable("operational")
    [status] = crm.plugin("analytical").kpis()
    assert (status.value, status.note) == (
        None, "sales cycles come from the operational plugin, which is not enabled")


def test_dashboard_panels_of_the_sales_cycle_and_forecast_accuracy(funnel):
    from crmkit_operational import dashboard

    cycle = dashboard.sales_cycle(funnel, dt.datetime(2025, 3, 1, tzinfo=UTC))
    assert cycle.rows == (("0-30 days", 1), ("31-60 days", 1), ("61-90 days", 0),
                          ("91-180 days", 0), ("181+ days", 0))
    assert cycle.note == "Median 27.5 days over 2 won opportunities."
    accuracy = dashboard.forecast_accuracy(funnel, dt.datetime(2025, 3, 1, tzinfo=UTC))
    assert accuracy.rows[-2:] == (("2025-01 USD", Decimal(0), Decimal(500), 100.0),
                                  ("2025-02 USD", Decimal(1900), Decimal(1000), 90.0))
    assert accuracy.note == "USD: MAPE 95.0 %, bias 26.67 %"
    sources = dashboard.lead_sources(funnel, dt.datetime(2025, 3, 1, tzinfo=UTC))
    assert sources.rows == (("(none)", 1, 1, 100.0, "1000.00 USD"),)


def web_source_plugin():
    """A plugin naming the source of the leads of customers whose external id starts "W"."""
    import types

    import crmkit
    from crmkit import hookimpl
    from crmkit.plugin import customers
    from sqlalchemy import select

    module = types.ModuleType("websource")
    module.PLUGIN = crmkit.PluginInfo(name="websource", description="leads from the web form")

    def crmkit_lead_sources(ctx, customer_ids):
        rows = ctx.conn.execute(select(customers.c.id, customers.c.external_id)
                                .where(customers.c.id.in_(customer_ids)))
        return {cid: "web form" for cid, ref in rows if ref.startswith("W")}

    module.crmkit_lead_sources = hookimpl(crmkit_lead_sources)
    return module


def test_lead_source_attribution_by_hand(crm_url, clock):
    import crmkit

    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"websource": web_source_plugin()}) as crm:
        crm.plugins.enable("websource")
        crm.plugins.enable("operational", MANUAL)
        api = crm.plugin("operational")
        for ref in ("W1", "W2", "N1", "N2"):
            crm.customers.add(ref)  # each enters the funnel as a lead
        clock.advance(days=1)
        won = [api.create_opportunity("W1", "A", "1000"), api.create_opportunity("N2", "B", "200"),
               api.create_opportunity("N2", "C", "50", currency="EUR")]
        api.create_opportunity("W2", "D", "300")  # still open
        for opportunity in won:
            api.move_opportunity(opportunity, "won")
        got = api.lead_sources()
    # web form: W1 and W2, W1 converted (1000 USD); no source: N1 and N2, N2 converted with
    # two wins (200 USD, 50 EUR)
    assert got == [
        {"source": "(none)", "leads": 2, "converted": 1, "conversion": 50.0, "won": 2,
         "revenue": {"EUR": Decimal("50"), "USD": Decimal("200")}},
        {"source": "web form", "leads": 2, "converted": 1, "conversion": 50.0, "won": 1,
         "revenue": {"USD": Decimal("1000")}}]
