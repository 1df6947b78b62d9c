"""Issue 24's must-show: one hand-built CRM (6 customers, 4 products with known costs,
20 orders, 3 cases, 1 campaign; tests/known_answer_data.py) and every headline metric
equal to the value worked out by hand, on SQLite and PostgreSQL.

Each expected value is a literal with the arithmetic beside it.  The dataset is built once
per backend (module scope); the tests only read it.

Prices and unit costs: TEA 10/6, COF 20/12, MUG 15/5, GRD 50/35 (margin 4, 8, 10, 15).
Orders (revenue / cost of goods / margin):
  A  10 Feb GRD+COF 70/47/23   15 Apr 2 COF+TEA 50/30/20   20 Aug GRD+COF 70/47/23
     10 Nov 2 COF+TEA 50/30/20                                       → 240/154/86
  B  5 Mar 2 TEA 20/12/8       10 Aug 2 MUG+TEA 40/16/24   1 Dec COF+MUG 35/17/18
                                                                     → 95/45/50
  C  1 Feb 2 GRD 100/70/30     20 May 3 COF 60/36/24       1 Oct 3 TEA 30/18/12
                                                                     → 190/124/66
  D  1 Aug MUG+TEA 25/11/14    20 Nov GRD 50/35/15         20 Dec 2 MUG 30/10/20
                                                                     → 105/56/49
  E  20 Mar COF+TEA 30/18/12   1 Jun MUG 15/5/10
     15 Sep COF (−5 discount)+MUG 30/17/13                 10 Dec TEA 10/6/4
                                                                     → 85/46/39
  F  20 Jan COF 20/12/8        1 Apr 2 TEA+MUG 35/17/18    20 Jun GRD 50/35/15
                                                                     → 105/64/41
  total revenue 820, margin 331.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select

from crmkit.clock import FixedClock
from crmkit.devtools.testing import backends
from crmkit.plugin import events, interactions
from known_answer_data import AS_OF, build, day, open_crm

UTC = dt.timezone.utc


@pytest.fixture(scope="module", params=backends())
def shop(request, tmp_path_factory):
    """The hand-built CRM, built once per backend."""
    folder = tmp_path_factory.mktemp("known-answer")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'crm.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database()
    clock = FixedClock(day(1, 1, 0))
    with open_crm(url, clock) as crm:
        build(crm, clock, folder / "products.csv")
        yield crm


def money(*values) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(v)) for v in values)


def cents(value: Decimal) -> Decimal:
    """Money to the cent, half up (as crmkit rounds money results)."""
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_the_dataset_is_the_one_described(shop):
    with shop.read() as conn:
        orders = conn.execute(select(func.count()).where(interactions.c.kind == "purchase")
                              ).scalar()
        cases = conn.execute(select(func.count()).where(events.c.type == "case.opened")
                             ).scalar()
    assert (len(shop.plugin("catalogue").products()), orders, cases) == (4, 20, 3)
    assert [c["name"] for c in shop.plugin("campaigns").list()] == ["autumn"]


def test_profit_per_customer(shop):
    lines = shop.plugin("catalogue").profit("customer", AS_OF)
    got = [(line.key, line.revenue, line.cost_of_goods, line.gross_margin, line.cost_to_serve,
            line.acquisition_cost, line.profit) for line in lines]
    # cost to serve: case 25, task 5, handling 30 an hour (config).
    # A: a manual task 5                                  → 86 − 5 = 81
    # B: nothing                                          → 50
    # F: nothing                                          → 41
    # E: one case 25                                      → 39 − 25 = 14
    # D: the first-contact task of its lead reaching sql 5, and acquisition: D's first
    #    purchase (1 Aug) is the only first purchase credited to "autumn" (B had bought
    #    in March), so D carries its whole cost 30 + 4 × 0.50 = 32 → 49 − 5 − 32 = 12
    # C: two cases 50 + a 40-minute call 40/60 × 30 = 20  → 66 − 70 = −4
    # L1, L2, L3 (leads, no purchase): a first-contact task each → −5
    assert got == [
        ("A", *money(240, 154, 86, 5, 0, 81)),
        ("B", *money(95, 45, 50, 0, 0, 50)),
        ("F", *money(105, 64, 41, 0, 0, 41)),
        ("E", *money(85, 46, 39, 25, 0, 14)),
        ("D", *money(105, 56, 49, 5, 32, 12)),
        ("C", *money(190, 124, 66, 70, 0, -4)),
        ("L1", *money(0, 0, 0, 5, 0, -5)),
        ("L2", *money(0, 0, 0, 5, 0, -5)),
        ("L3", *money(0, 0, 0, 5, 0, -5)),
    ]


def test_profit_per_segment_and_per_quarter(shop):
    catalogue = shop.plugin("catalogue")
    segments = {line.key: (line.customers, line.revenue, line.gross_margin,
                           line.cost_to_serve, line.profit)
                for line in catalogue.profit("segment", AS_OF)}
    # duo = A + B: revenue 240 + 95, margin 86 + 50, serve 5 → profit 131
    # (D, acquired by the campaign, is in neither)
    # declining = C, E, F (phase decline): revenue 190 + 85 + 105 = 380,
    #   margin 66 + 39 + 41 = 146, serve 70 + 25 = 95 → profit 51
    assert segments == {"duo": (2, *money(335, 136, 5, 131)),
                        "declining": (3, *money(380, 146, 95, 51))}
    quarters = [(line.key, line.revenue, line.gross_margin, line.cost_to_serve, line.profit)
                for line in catalogue.profit("period", AS_OF, period="quarter")]
    # Q1: orders 70 + 20 + 100 + 30 + 20 = 240, margin 23 + 8 + 30 + 12 + 8 = 81;
    #     L3's first-contact task (10 Mar) 5 → 76
    # Q2: 50 + 60 + 15 + 35 + 50 = 210, margin 20 + 24 + 10 + 18 + 15 = 87; C's case → 62
    # Q3: 70 + 40 + 25 + 30 = 165, margin 23 + 24 + 14 + 13 = 74;
    #     tasks of D, L1, L2 (15) + E's case (25) = 40, D acquired on 1 Aug (32) → 2
    # Q4: 50 + 35 + 30 + 50 + 30 + 10 = 205, margin 20 + 18 + 12 + 15 + 20 + 4 = 89;
    #     C's case 25 + C's call 20 + A's task 5 = 50 → 39
    assert quarters == [("2024-Q1", *money(240, 81, 5, 76)), ("2024-Q2", *money(210, 87, 25, 62)),
                        ("2024-Q3", *money(165, 74, 40, 2)), ("2024-Q4", *money(205, 89, 50, 39))]


def test_pareto_on_profit(shop):
    got = shop.plugin("analytical").pareto(AS_OF, measure="profit")
    # 9 customers with a purchase or a cost to serve; profit 81, 50, 41, 14, 12, −4, −5 × 3:
    # total 179.  Top ⌈20 % × 9⌉ = 2: (81 + 50) / 179 = 73.18 % → 73.2.
    # 80 % of 179 = 143.2: 81 → 131 → 172 reaches it with 3 customers, 3 / 9 = 33.3 %.
    assert (got.measure, got.customers, got.revenue, got.top_customers, got.top_revenue_share,
            got.customers_for_target, got.customer_share_for_target) == (
        "profit", 9, Decimal("179.00"), 2, 73.2, 3, 33.3)


def test_customer_equity_and_its_parts(shop):
    analytical = shop.plugin("analytical")
    got = analytical.customer_equity(AS_OF)
    # Current customers: A–F (6); prospects: L1, L2, L3 (3).
    # Conversion from the funnel: the flows through "lead" are L3, L1, L2 and D; D and L1
    # were won → 2 / 4 = 0.5.  Every first purchase is within 365 days (the earliest, F's,
    # on 20 Jan 2024), so all 6 are new customers.
    assert (got.customers, got.prospects, got.conversion_probability, got.conversion_source,
            got.new_customers_counted, got.note) == (6, 3, 0.5, "funnel", 6, None)
    # The CLVs themselves are the BG/NBD + Gamma-Gamma predictions (a maximum-likelihood fit,
    # not a hand calculation); on them the equity is Σ CLV + 3 × 0.5 × mean CLV.
    clv = [p.clv for p in analytical.clv_predictions(AS_OF)]
    assert len(clv) == 6
    assert got.current_value == cents(sum(clv))
    assert got.new_customer_value == cents(sum(clv) / 6)
    assert got.prospect_value == cents(3 * Decimal("0.5") * sum(clv) / 6)
    assert got.equity == cents(sum(clv) + 3 * Decimal("0.5") * sum(clv) / 6)


def test_sales_growth_on_revenue_and_margin(shop):
    analytical = shop.plugin("analytical")
    revenue = [(r.period, r.value, r.previous, r.growth_percent)
               for r in analytical.sales_growth(AS_OF, "quarter", 4)]
    # (210 − 240) / 240 = −12.5 %; (165 − 210) / 210 = −21.43 %; (205 − 165) / 165 = 24.24 %
    assert revenue == [("2024-Q1", *money(240, 0), None), ("2024-Q2", *money(210, 240), -12.5),
                       ("2024-Q3", *money(165, 210), -21.4), ("2024-Q4", *money(205, 165), 24.2)]
    margin = [(r.period, r.value, r.previous, r.growth_percent)
              for r in analytical.sales_growth(AS_OF, "quarter", 4, measure="margin")]
    # (87 − 81) / 81 = 7.41 %; (74 − 87) / 87 = −14.94 %; (89 − 74) / 74 = 20.27 %
    assert margin == [("2024-Q1", *money(81, 0), None), ("2024-Q2", *money(87, 81), 7.4),
                      ("2024-Q3", *money(74, 87), -14.9), ("2024-Q4", *money(89, 74), 20.3)]


def test_sales_cycle_length(shop):
    operational = shop.plugin("operational")
    cycles = [(r["customer"], r["owner"], r["source"], r["from"], r["days"])
              for r in operational.sales_cycles(AS_OF)]
    # D: lead 25 Jul → won 1 Aug = 7 days; A (a client, no lead): opportunity 2 Sep → won
    # 15 Oct = 28 + 15 = 43 days; L1: lead 22 Jul → won 10 Nov = 9 + 31 + 30 + 31 + 10 = 111
    assert cycles == [("D", "ana", "campaign autumn", "lead", 7.0),
                      ("A", "ana", "(none)", "opportunity", 43.0),
                      ("L1", "bo", "campaign autumn", "lead", 111.0)]
    [overall] = operational.sales_cycle(AS_OF)
    # [7, 43, 111]: median 43; inclusive quartiles 7 + ½ × 36 = 25 and 43 + ½ × 68 = 77;
    # mean 161 / 3 = 53.67; one each in 0–30, 31–60 and 91–180
    assert overall == {"won": 3, "median_days": 43.0, "p25_days": 25.0, "p75_days": 77.0,
                       "mean_days": 53.67, "min_days": 7.0, "max_days": 111.0,
                       "days_0-30": 1, "days_31-60": 1, "days_61-90": 0, "days_91-180": 1,
                       "days_181+": 0}
    by_owner = {r["owner"]: (r["won"], r["median_days"], r["p25_days"], r["p75_days"])
                for r in operational.sales_cycle(AS_OF, by="owner")}
    # ana [7, 43]: median 25, quartiles 7 + ¼ × 36 = 16 and 7 + ¾ × 36 = 34; bo [111]
    assert by_owner == {"ana": (2, 25.0, 16.0, 34.0), "bo": (1, 111.0, 111.0, 111.0)}
    by_source = {r["source"]: (r["won"], r["median_days"], r["mean_days"])
                 for r in operational.sales_cycle(AS_OF, by="source")}
    # D and L1 came from the campaign: [7, 111], median = mean = 59; A has no lead: (none)
    assert by_source == {"(none)": (1, 43.0, 43.0), "campaign autumn": (2, 59.0, 59.0)}


def test_win_rate(shop):
    outcomes = shop.plugin("analytical").funnel(AS_OF)[1]
    # flows: D, L1, A won; L2, C lost; L3 open → 3 / (3 + 2) = 60 %
    assert [(o.group, o.records, o.won, o.lost, o.win_rate) for o in outcomes] == [
        ("all", 6, 3, 2, 60.0)]


def test_forecast_accuracy(shop):
    result = shop.plugin("operational").forecast_accuracy(AS_OF, months=12)
    months = [(r["month"], r["forecast"], r["actual"], r["abs_percent_error"])
              for r in result["months"]]
    # At each month's start, the open opportunities expected to close in it:
    # Aug: D at proposal 50 % × 25 = 12.5, won 25 (50 % off); Sep: L2 at qualification
    # 10 % × 200 = 20, nothing won; Oct: A at negotiation 75 % × 1000 = 750, won 1000 (25 %);
    # Nov: L1 at commit 90 % × 400 = 360, won 400 (10 %); Dec: C 10 % × 150 = 15, lost.
    assert months == [("2024-08", *money(12.5, 25), 50.0), ("2024-09", *money(20, 0), None),
                      ("2024-10", *money(750, 1000), 25.0), ("2024-11", *money(360, 400), 10.0),
                      ("2024-12", *money(15, 0), None)]
    # MAPE (50 + 25 + 10) / 3 = 28.33; bias (−12.5 − 250 − 40) / 1425 = −21.23 %
    assert result["summary"] == [{"currency": "USD", "months": 3, "mape": 28.33,
                                  "bias": -21.23}]


def test_lead_source_attribution(shop):
    got = shop.plugin("operational").lead_sources(AS_OF)
    # L1, L2 and D became leads within 30 days of the campaign's message: 3 leads, D and L1
    # won (25 + 400); L3 has no source and won nothing
    assert got == [
        {"source": "campaign autumn", "leads": 3, "converted": 2, "conversion": 66.7,
         "won": 2, "revenue": {"USD": Decimal("425")}},
        {"source": "(none)", "leads": 1, "converted": 0, "conversion": 0.0, "won": 0,
         "revenue": {}}]


def test_campaign_result_crm_roi_and_acquisition_cost(shop):
    campaigns = shop.plugin("campaigns")
    line = campaigns.report("autumn", AS_OF).all
    # sent to B, D, L1, L2; cost 30 + 4 × 0.50 = 32; converted within 30 days of 20 Jul:
    # D (1 Aug, 25) and B (10 Aug, 40) = 65; ROI (65 − 32) / 32 = 1.03125 → 1.0313
    assert (line.sent, line.converted, line.revenue, line.cost, line.roi) == (
        4, 2, *money(65, 32, "1.0313"))
    got = campaigns.returns(dt.datetime(2024, 7, 1, tzinfo=UTC), AS_OF)
    # 1 Jul → 1 Jan = 184 days = 184 / 30.4375 = 6.0452 months; the CRM at 20 a month:
    # 120.9035 → 120.90; cost 32 + 120.90 = 152.90; ROI (65 − 152.90) / 152.90 = −0.5749;
    # acquisition 32 + 5 × 6.0452 = 62.2259 → 62.23 over 1 new customer (D) → CAC 62.23
    assert {k: got[k] for k in ("months", "revenue", "campaign_cost", "crm_cost", "cost",
                                "roi", "acquisition_cost", "new_customers", "cac")} == {
        "months": 6.05, "revenue": Decimal("65.00"), "campaign_cost": Decimal("32.00"),
        "crm_cost": Decimal("120.90"), "cost": Decimal("152.90"), "roi": Decimal("-0.57"),
        "acquisition_cost": Decimal("62.23"), "new_customers": 1, "cac": Decimal("62.23")}


def test_relationship_quality_index_and_components(shop):
    got = [(r.external_id, r.trust, r.satisfaction, r.commitment, r.index, r.surveyed)
           for r in shop.plugin("analytical").relationship_quality(AS_OF)]
    # Survey items scored 0–100: (answer − min) / (max − min).  Behaviour over 2 Jan 2024 –
    # 1 Jan 2025 (halves split 2 Jul 12:00): both halves 100 / one 50; no complaint 100;
    # purchases on ≥ 2 days 100.  Component = 0.7 × survey + 0.3 × behaviour.
    # A: trust 7/7 → 100; csat 5 → 100; commit 6 → 83.33 → 0.7 × 83.33 + 30 = 88.33;
    #    index (100 + 100 + 88.33) / 3 = 96.11
    # B: trust 4 → 50 → 65; csat 4 → 75 → 82.5; commit 4 → 50 → 65; index 70.83
    # C: trust 2 → 16.67 → 41.67; csat 2 → 25, a complaint (0) → 17.5; commit 1 → 0 → 30;
    #    index (41.67 + 17.5 + 30) / 3 = 29.72
    # D: no survey, bought only after July (50), 3 days → 50, 100, 100; index 83.33
    # E: csat 3 → 50 → 65; trust and commitment by behaviour 100; index 88.33
    # F: no survey, bought only before July → 50, 100, 100; index 83.33
    everything = ("trust", "satisfaction", "commitment")
    assert got == [("A", 100.0, 100.0, 88.33, 96.11, everything),
                   ("B", 65.0, 82.5, 65.0, 70.83, everything),
                   ("C", 41.67, 17.5, 30.0, 29.72, everything),
                   ("D", 50.0, 100.0, 100.0, 83.33, ()),
                   ("E", 100.0, 65.0, 100.0, 88.33, ("satisfaction",)),
                   ("F", 50.0, 100.0, 100.0, 83.33, ())]


def test_relationship_phases(shop):
    analytical = shop.plugin("analytical")
    got = [(r.external_id, r.phase, r.recent_spend, r.prior_spend, r.recent_engagement,
            r.prior_engagement) for r in analytical.phases(AS_OF)]
    # recent (5 Jul, 1 Jan], prior (7 Jan, 5 Jul]; engagement: purchase 3, survey 1, visit 1,
    # anything else 1.
    # A: 120 vs 120, engagement 3 + 3 + visit + survey = 8 vs 6 → mature
    # B: 40 + 35 = 75 vs 20: more than +20 % → develop
    # C: 30 vs 160: more than −20 % → decline
    # D: first purchase 1 Aug, after 5 Jul → establish
    # E: 40 vs 45 (within −20 %), engagement 3 + 3 + 1 = 7 vs 3 + 3 + 4 visits = 10,
    #    down 30 % → decline
    # F: nothing recent → decline; L1–L3 never bought → prospect
    assert got == [("A", "mature", *money(120, 120), 8.0, 6.0),
                   ("B", "develop", *money(75, 20), 7.0, 3.0),
                   ("C", "decline", *money(30, 160), 6.0, 6.0),
                   ("D", "establish", *money(105, 0), 9.0, 0.0),
                   ("E", "decline", *money(40, 45), 7.0, 10.0),
                   ("F", "decline", *money(0, 105), 0.0, 9.0),
                   ("L1", "prospect", *money(0, 0), 0.0, 0.0),
                   ("L2", "prospect", *money(0, 0), 0.0, 0.0),
                   ("L3", "prospect", *money(0, 0), 0.0, 0.0)]
    assert analytical.phase_counts(AS_OF) == {"prospect": 3, "establish": 1, "develop": 1,
                                              "mature": 1, "decline": 3}


def test_engagement_across_channels(shop):
    analytical = shop.plugin("analytical")
    # The 90 days after 3 Oct: D 2 purchases = 6; A purchase + visit + survey = 5;
    # B purchase + survey = 4; E purchase + survey = 4; C complaint + call + survey = 3
    assert [(s.external_id, s.interactions, s.score) for s in analytical.engagement(AS_OF)] == [
        ("D", 2, 6.0), ("A", 3, 5.0), ("B", 2, 4.0), ("E", 2, 4.0), ("C", 3, 3.0)]
    assert [(k.kind, k.interactions, k.points) for k in analytical.engagement_by_kind(AS_OF)] == [
        ("purchase", 5, 15.0), ("survey", 4, 4.0), ("call", 1, 1.0), ("complaint", 1, 1.0),
        ("visit", 1, 1.0)]
    # (6 + 5 + 4 + 4 + 3) / 9 customers = 22 / 9
    assert analytical.average_engagement(AS_OF) == 2.4444


def test_perceived_value_per_segment(shop):
    got = [(v.group, v.respondents, v.benefit, v.cost, v.net)
           for v in shop.plugin("analytical").perceived_value(AS_OF)]
    # quality (1–5) → benefit, price (1–5) → cost, scored 0–100:
    # A 100/25, B 75/75, C 25/100, E 50/0.
    # all: benefit (100 + 75 + 25 + 50) / 4 = 62.5, cost (25 + 75 + 100 + 0) / 4 = 50
    # declining (C, E, F; F did not answer): 37.5 and 50; duo (A, B): 87.5 and 50
    assert got == [("all", 4, 62.5, 50.0, 12.5), ("declining", 2, 37.5, 50.0, -12.5),
                   ("duo", 2, 87.5, 50.0, 37.5)]


def test_the_metrics_as_smart_kpis(shop):
    got = {k.name: k.value for k in shop.plugin("analytical").kpis(AS_OF)}
    # 2024 to its last second: the same figures as above
    # revenue 820; new customers A–F (first purchases all in 2024); conversion 2 / 4 flows
    # through "lead" won = 50 %; win rate 60 %; median cycle of the 3 wins 43 days;
    # engagement 22 / 9 = 2.4444; relationship quality (96.11 + 70.83 + 29.72 + 83.33 +
    # 88.33 + 83.33) / 6 = 451.65 / 6 = 75.275 → 75.28; perceived net value 12.5
    assert got == {"revenue": 820.0, "new_customers": 6, "conversion_rate": 50.0,
                   "win_rate": 60.0, "sales_cycle_days": 43.0, "average_engagement": 2.4444,
                   "relationship_quality": 75.28, "perceived_value": 12.5}
