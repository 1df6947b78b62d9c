"""Sales growth, engagement across channels and relationship phases on hand-built histories
(issue 24 section 3): every number below is computed by hand in the comments."""

from __future__ import annotations

import types
from decimal import Decimal

import pytest
from sqlalchemy import BigInteger, select, type_coerce

import crmkit
from crmkit import hookimpl
from crmkit.errors import ValidationError

from analytical_support import days_ago, ids, record, row


def growth_history(crm):
    record(crm, [row("G1", "2024-10-15", amount=100), row("G1", "2024-11-10", amount=150),
                 row("G2", "2024-11-20", "refund", amount=30), row("G2", "2024-12-05", amount=60)])


def test_sales_growth_period_over_period_by_hand(crm):
    crm.plugins.enable("analytical")
    growth_history(crm)
    got = crm.plugin("analytical").sales_growth(periods=2)  # as of 2025-01-01: Nov, Dec
    # October 100; November 150 - 30 (refund) = 120: +20 (+20.0 %); December 60: -60 (-50.0 %)
    assert [(r.period, r.value, r.previous, r.change, r.growth_percent) for r in got] == [
        ("2024-11", Decimal("120"), Decimal("100"), Decimal("20"), 20.0),
        ("2024-12", Decimal("60"), Decimal("120"), Decimal("-60"), -50.0)]
    quarter = crm.plugin("analytical").sales_growth(period="quarter", periods=1)
    assert [(r.period, r.value, r.previous, r.growth_percent) for r in quarter] == [
        ("2024-Q4", Decimal("280"), Decimal("0"), None)]  # 100 + 120 + 60; nothing in Q3


def half_margin_plugin() -> types.ModuleType:
    """A stand-in for the catalogue's ``margin`` measure: half of each purchase's amount."""
    from crmkit.plugin import interactions as I

    module = types.ModuleType("half_margin")
    module.PLUGIN = crmkit.PluginInfo(name="halfmargin", description="margin = amount / 2")

    def crmkit_customer_measure(config, measure, as_of, since):
        if measure != "margin":
            return None
        units = type_coerce(I.c.amount, BigInteger) / 2  # stored units: MONEY_SCALE per unit
        query = select(I.c.customer_id, units.label("units")).where(
            I.c.kind == "purchase", I.c.occurred_at <= as_of)
        return query if since is None else query.where(I.c.occurred_at > since)

    module.crmkit_customer_measure = hookimpl(crmkit_customer_measure)
    return module


def test_sales_growth_on_a_plugins_margin(crm_url, clock):
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"halfmargin": half_margin_plugin()}) as crm:
        crm.plugins.enable("analytical")
        with pytest.raises(ValidationError, match="no enabled plugin provides 'margin'"):
            crm.plugin("analytical").sales_growth(measure="margin")
        crm.plugins.enable("halfmargin")
        growth_history(crm)
        got = crm.plugin("analytical").sales_growth(periods=2, measure="margin")
    # margins (purchases only): October 50, November 75, December 30
    assert [(r.period, r.value, r.growth_percent) for r in got] == [
        ("2024-11", Decimal("75"), 50.0), ("2024-12", Decimal("30"), -60.0)]


def test_sales_growth_is_a_smart_kpi(crm):
    kpis = [{"name": "growth", "metric": "sales_growth", "target": 10, "deadline": "2025-06-30"}]
    crm.plugins.enable("analytical", {"kpis": kpis})
    growth_history(crm)
    status = crm.plugin("analytical").kpis(as_of=days_ago(22))[0]  # 2024-12-10 10:00
    # December 1-10: 60; November 1-10 10:00: 150 (the purchase at midnight of 11-10) -> -60.0 %
    assert (status.value, status.status) == (-60.0, "off_track")


ENGAGEMENT = {"engagement": {"weights": {"purchase": 3, "email.open": 0.5}}}


def engagement_history(crm):
    record(crm, [row("A", days_ago(10), amount=20), row("A", days_ago(5), "email.open"),
                 row("A", days_ago(5, hour=11), "email.open"), row("A", days_ago(100), "note"),
                 row("B", days_ago(1), "call"), row("C", days_ago(200), amount=5)])


def test_engagement_weights_every_kind_in_the_window(crm):
    crm.plugins.enable("analytical", ENGAGEMENT)
    engagement_history(crm)
    api = crm.plugin("analytical")
    # A: purchase 3 + two opens 0.5 each (the note 100 days ago is outside 90 days) = 4.0
    # B: a call at the default weight 1; C: nothing in the window
    assert [(e.external_id, e.interactions, e.score) for e in api.engagement()] == [
        ("A", 3, 4.0), ("B", 1, 1.0)]
    assert [(k.kind, k.interactions, k.points) for k in api.engagement_by_kind()] == [
        ("purchase", 1, 3.0), ("call", 1, 1.0), ("email.open", 2, 1.0)]
    assert api.average_engagement() == round(5 / 3, 4)  # (4 + 1 + 0) / 3 customers


def phase_history(crm):
    record(crm, [
        row("P", days_ago(3), "note"),                                   # never bought
        row("E", days_ago(30), amount=100),                              # first purchase recent
        row("D", days_ago(300), amount=100), row("D", days_ago(10), amount=200),
        row("M", days_ago(300), amount=100), row("M", days_ago(10), amount=110),
        row("X", days_ago(300), amount=100), row("X", days_ago(10), amount=50),
        row("Y", days_ago(300), amount=100), row("Y", days_ago(10), amount=100),
        *[row("Y", days_ago(250, hour=h), "note") for h in (9, 10, 11, 12)],
        row("Z", days_ago(400), amount=100),                             # nothing since
    ])


def test_relationship_phases_by_hand(crm):
    crm.plugins.enable("analytical")
    phase_history(crm)
    api = crm.plugin("analytical")
    # windows of 180 days: recent (AS_OF - 180, AS_OF], prior (AS_OF - 360, AS_OF - 180]
    # D: 200 > 100 x 1.2 -> develop; M: 110 within 80..120 of 100 -> mature;
    # X: 50 < 80 -> decline; Y: spend 100 = 100 but engagement 1 < 5 x 0.8 -> decline;
    # Z: nothing in either window -> decline; E: first purchase 30 days ago -> establish
    got = {r.external_id: (r.phase, r.recent_spend, r.prior_spend, r.recent_engagement,
                           r.prior_engagement) for r in api.phases()}
    assert got == {
        "P": ("prospect", Decimal(0), Decimal(0), 1.0, 0.0),
        "E": ("establish", Decimal(100), Decimal(0), 1.0, 0.0),
        "D": ("develop", Decimal(200), Decimal(100), 1.0, 1.0),
        "M": ("mature", Decimal(110), Decimal(100), 1.0, 1.0),
        "X": ("decline", Decimal(50), Decimal(100), 1.0, 1.0),
        "Y": ("decline", Decimal(100), Decimal(100), 1.0, 5.0),
        "Z": ("decline", Decimal(0), Decimal(0), 0.0, 0.0)}
    assert api.phase_counts() == {"prospect": 1, "establish": 1, "develop": 1, "mature": 1,
                                  "decline": 3}


def test_the_user_picks_which_lifecycle_segments_use(crm):
    crm.plugins.enable("analytical")
    phase_history(crm)
    api = crm.plugin("analytical")
    names = {number: name for name, number in ids(crm).items()}
    by_recency = api.evaluate_segment({"field": "lifecycle", "op": "eq", "value": "won_back"})
    # bought 10 days ago, 290 days after the purchase before: won back (recency stages)
    assert sorted(names[i] for i in by_recency) == ["D", "M", "X", "Y"]
    crm.plugins.configure("analytical", {"lifecycle": {"model": "relationship"}})
    by_phase = api.evaluate_segment({"field": "lifecycle", "op": "in",
                                     "value": ["develop", "establish"]})
    assert sorted(names[i] for i in by_phase) == ["D", "E"]


def test_phase_thresholds_are_configurable(crm):
    crm.plugins.enable("analytical", {"phases": {"growth_percent": 150, "decline_percent": 60}})
    phase_history(crm)
    got = {r.external_id: r.phase for r in crm.plugin("analytical").phases()}
    # D: 200 is not above 100 x 2.5 -> mature; X: 50 is not below 100 x 0.4 -> mature;
    # Y: engagement 1 < 5 x 0.4 = 2 -> still decline
    assert (got["D"], got["X"], got["Y"]) == ("mature", "mature", "decline")


def test_cli_growth_phases_and_engagement(crm, run_cli):
    crm.plugins.enable("analytical", ENGAGEMENT)
    growth_history(crm)
    code, out, _ = run_cli("analytical", "growth", "--periods", "2", "--as-of", "2025-01-01",
                           "--format", "csv")
    assert code == 0
    assert out.splitlines()[1:] == [
        "2024-11,2024-11-01T00:00:00+00:00,2024-12-01T00:00:00+00:00,120.0000,100.0000,20.0000,20.0",
        "2024-12,2024-12-01T00:00:00+00:00,2025-01-01T00:00:00+00:00,60.0000,120.0000,-60.0000,-50.0"]
    code, out, _ = run_cli("analytical", "phases", "--as-of", "2025-01-01", "--format", "csv")
    # G1 bought 2024-10-15 and 11-10 (first more than 180 days before? no: establish);
    # G2's first purchase 2024-12-05: establish too
    assert code == 0 and out.splitlines()[1:] == [
        "prospect,0", "establish,2", "develop,0", "mature,0", "decline,0"]
    code, out, err = run_cli("analytical", "engagement", "--as-of", "2025-01-01",
                             "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "kind,interactions,points"
    assert "average engagement per customer" in err


def test_dashboard_panels_show_growth_phases_and_engagement(crm):
    from crmkit_analytical import dashboard

    crm.plugins.enable("analytical", ENGAGEMENT)
    growth_history(crm)
    phase_history(crm)
    api = crm.plugin("analytical")
    growth = dashboard.sales_growth(api, days_ago(0, hour=12))
    # November 120 (+20 % over October's 100); December: G2's 60, E's 100 (12-02) and the
    # purchases of 12-22 by D, M, X and Y (200 + 110 + 50 + 100) = 620
    rows = {r[0]: r[1:] for r in growth.rows}
    assert len(growth.rows) == 12
    assert rows["2024-11"] == (Decimal("120"), Decimal("100"), 20.0)
    assert rows["2024-12"][0] == Decimal("620")
    phases = dashboard.phases(api, days_ago(0, hour=12))
    assert dict(phases.rows) == api.phase_counts(days_ago(0, hour=12))
    engaged = dashboard.engagement(api, days_ago(0, hour=12))
    assert [r[0] for r in engaged.rows] == [k.kind for k in api.engagement_by_kind(
        days_ago(0, hour=12))]
