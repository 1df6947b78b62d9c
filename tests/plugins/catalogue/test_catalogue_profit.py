"""Must-show: 6 customers, 4 products with known costs, 20 orders, 3 cases, 1 task, 1 call:
profit per customer, per segment and per period, and Pareto on profit, worked out by hand.

Products (list price / unit cost): BREAD-S 10/4, BREAD-L 20/12 (food/bread), TEA 5/1,
COFFEE 8/5 (drinks).  Cost to serve: 25 per case opened, 5 per task created, 30 per hour of
handling time.  Margins per order (line totals − qty × unit cost):

C1  o1  Jan 5   2 BREAD-S @10                      20 − 8  = 12
    o2  Feb 3   BREAD-L @20 + 2 TEA @5             30 − 14 = 16
    o3  Mar 10  4 TEA @5, discount 2               18 − 4  = 14
    o4  Apr 1   COFFEE @8                           8 − 5  =  3   revenue 76, margin 45
C2  o5  Jan 15  2 BREAD-L @20                      40 − 24 = 16
    o6  Feb 20  BREAD-L @20 + BREAD-S @10          30 − 16 = 14
    o7  May 2   3 COFFEE @8                        24 − 15 =  9   revenue 94, margin 39
C3  o8  Jan 20  TEA @5                              5 − 1  =  4
    o9  Mar 3   2 TEA @5 + BREAD-S @10             20 − 6  = 14
    o10 Jun 6   TEA @5                              5 − 1  =  4   revenue 30, margin 22
C4  o11 Feb 1   2 COFFEE @8                        16 − 10 =  6
    o12 Apr 9   COFFEE @8 + TEA @5                 13 − 6  =  7
    o13 Jun 1   BREAD-S @10                        10 − 4  =  6   revenue 39, margin 19
C5  o14 Mar 15  3 BREAD-L @20, discount 5          55 − 36 = 19
    o15 Apr 20  BREAD-L @20 + TEA @5               25 − 13 = 12
    o16 May 5   2 BREAD-S @10                      20 − 8  = 12
    o17 Jun 15  COFFEE @8                           8 − 5  =  3   revenue 108, margin 46
C6  o18 Jan 9   TEA @5                              5 − 1  =  4
    o19 Feb 9   TEA @5                              5 − 1  =  4
    o20 May 9   BREAD-S @10 + TEA @5               15 − 5  = 10   revenue 25, margin 18

Cost to serve: C1 two cases (Feb 10, Mar 20) = 50; C5 one case (Apr 25) = 25; C4 one task
(May 20) = 5; C2 one call of 20 minutes (Jan 25) = 10.
Profit: C1 45 − 50 = −5, C2 39 − 10 = 29, C3 22, C4 19 − 5 = 14, C5 46 − 25 = 21, C6 18;
total 99.
"""

from __future__ import annotations

import json
from decimal import Decimal

from catalogue_support import at, line, order

ORDERS = [
    ("C1", at(2025, 1, 5), [line("BREAD-S", 2, 10)]),
    ("C1", at(2025, 2, 3), [line("BREAD-L", 1, 20), line("TEA", 2, 5)]),
    ("C1", at(2025, 3, 10), [line("TEA", 4, 5, 2)]),
    ("C1", at(2025, 4, 1), [line("COFFEE", 1, 8)]),
    ("C2", at(2025, 1, 15), [line("BREAD-L", 2, 20)]),
    ("C2", at(2025, 2, 20), [line("BREAD-L", 1, 20), line("BREAD-S", 1, 10)]),
    ("C2", at(2025, 5, 2), [line("COFFEE", 3, 8)]),
    ("C3", at(2025, 1, 20), [line("TEA", 1, 5)]),
    ("C3", at(2025, 3, 3), [line("TEA", 2, 5), line("BREAD-S", 1, 10)]),
    ("C3", at(2025, 6, 6), [line("TEA", 1, 5)]),
    ("C4", at(2025, 2, 1), [line("COFFEE", 2, 8)]),
    ("C4", at(2025, 4, 9), [line("COFFEE", 1, 8), line("TEA", 1, 5)]),
    ("C4", at(2025, 6, 1), [line("BREAD-S", 1, 10)]),
    ("C5", at(2025, 3, 15), [line("BREAD-L", 3, 20, 5)]),
    ("C5", at(2025, 4, 20), [line("BREAD-L", 1, 20), line("TEA", 1, 5)]),
    ("C5", at(2025, 5, 5), [line("BREAD-S", 2, 10)]),
    ("C5", at(2025, 6, 15), [line("COFFEE", 1, 8)]),
    ("C6", at(2025, 1, 9), [line("TEA", 1, 5)]),
    ("C6", at(2025, 2, 9), [line("TEA", 1, 5)]),
    ("C6", at(2025, 5, 9), [line("BREAD-S", 1, 10), line("TEA", 1, 5)]),
]
CUSTOMERS = ("C1", "C2", "C3", "C4", "C5", "C6")
AS_OF = at(2025, 7, 1)
CONFIG = {"cost_to_serve": {"cost_per_hour": "30"}}


def build(crm, clock, catalogue):
    crm.plugins.enable("operational")
    api = catalogue(CONFIG, customers=CUSTOMERS)
    crm.customers.update("C1", tags=["vip"])
    crm.customers.update("C2", tags=["vip"])
    crm.interactions.record_many([order(c, when, *lines, ref=f"o{n}")
                                  for n, (c, when, lines) in enumerate(ORDERS, 1)])
    crm.interactions.record("C2", at(2025, 1, 25), kind="call",
                            payload={"handling_minutes": 20})
    operational = crm.plugin("operational")
    for customer, when in (("C1", at(2025, 2, 10)), ("C1", at(2025, 3, 20)),
                           ("C5", at(2025, 4, 25))):
        clock.set(when)
        operational.open_case(customer, "complaint")
    clock.set(at(2025, 5, 20))
    operational.create_task("C4", "call back", None, at(2025, 5, 27))
    clock.set(AS_OF)
    return api


def _money(*values) -> tuple:
    return tuple(Decimal(v) for v in values)


def test_profit_per_customer_segment_and_period(crm, clock, catalogue):
    api = build(crm, clock, catalogue)
    lines = api.profit("customer", AS_OF)
    assert [(x.key, x.revenue, x.cost_of_goods, x.gross_margin, x.cost_to_serve,
             x.acquisition_cost, x.profit) for x in lines] == [
        ("C2", *_money(94, 55, 39, 10, 0, 29)),
        ("C3", *_money(30, 8, 22, 0, 0, 22)),
        ("C5", *_money(108, 62, 46, 25, 0, 21)),
        ("C6", *_money(25, 7, 18, 0, 0, 18)),
        ("C4", *_money(39, 20, 19, 5, 0, 14)),
        ("C1", *_money(76, 31, 45, 50, 0, -5)),
    ]
    assert api.acquisition_note().startswith("acquisition cost 0: no enabled plugin")
    assert [(x.key, x.customers, x.revenue, x.gross_margin, x.cost_to_serve, x.profit)
            for x in api.profit("period", AS_OF)] == [
        ("2025-01", 4, *_money(70, 36, 10, 26)),
        ("2025-02", 4, *_money(81, 40, 25, 15)),
        ("2025-03", 3, *_money(93, 47, 25, 22)),
        ("2025-04", 3, *_money(46, 22, 25, -3)),
        ("2025-05", 3, *_money(59, 31, 5, 26)),
        ("2025-06", 3, *_money(23, 13, 0, 13)),
    ]
    assert [(x.key, x.profit) for x in api.profit("period", AS_OF, period="quarter")] == [
        ("2025-Q1", Decimal(63)), ("2025-Q2", Decimal(36))]
    # as of the end of March, only after January: o2, o3 and two cases for C1 (30 − 50),
    # o6, o9, o11, o14, o19; the call of January 25 is before the window
    assert [(x.key, x.profit) for x in api.profit("customer", at(2025, 3, 31),
                                                  since=at(2025, 1, 31))] == [
        ("C5", Decimal(19)), ("C2", Decimal(14)), ("C3", Decimal(14)), ("C4", Decimal(6)),
        ("C6", Decimal(4)), ("C1", Decimal(-20))]
    crm.plugins.enable("analytical")
    crm.plugin("analytical").save_segment(
        "vip", {"field": "tags", "op": "contains", "value": "vip"})
    [vip] = api.profit("segment", AS_OF)
    assert (vip.key, vip.customers, vip.gross_margin, vip.cost_to_serve, vip.profit) == (
        "vip", 2, *_money(84, 60, 24))


def test_pareto_on_profit_and_margin(crm, clock, catalogue):
    build(crm, clock, catalogue)
    crm.plugins.enable("analytical")
    analytical = crm.plugin("analytical")
    # ranked by profit: 29, 22, 21, 18, 14, −5 (total 99); top 20 % = ⌈1.2⌉ = 2 customers:
    # 51 / 99 = 51.5 %; 80 % of 99 = 79.2 is reached by 29 + 22 + 21 + 18 = 90: 4 of 6 = 66.7 %
    result = analytical.pareto(AS_OF, measure="profit")
    assert (result.measure, result.customers, result.revenue, result.top_customers,
            result.top_revenue_share, result.customers_for_target,
            result.customer_share_for_target) == ("profit", 6, Decimal("99.00"), 2, 51.5, 4,
                                                  66.7)
    # by margin: 46, 45, 39, 22, 19, 18 (total 189); top 2: 91 / 189 = 48.1 %;
    # 151.2 is reached by 46 + 45 + 39 + 22 = 152: 4 of 6
    result = analytical.pareto(AS_OF, measure="margin")
    assert (result.revenue, result.top_revenue_share, result.customers_for_target) == (
        Decimal("189.00"), 48.1, 4)


def test_profit_commands(crm, clock, catalogue, run_cli):
    build(crm, clock, catalogue)
    code, out, err = run_cli("catalogue", "profit", "--as-of", "2025-07-01", "--format", "json")
    assert code == 0 and err.startswith("note: acquisition cost 0")
    rows = json.loads(out)
    assert [(r["customer"], r["profit"]) for r in rows][:2] == [("C2", "29.0000"),
                                                                ("C3", "22.0000")]
    code, out, _ = run_cli("catalogue", "profit", "--by", "period", "--period", "year",
                           "--as-of", "2025-07-01", "--format", "csv")
    assert out.splitlines() == [
        "period,customers,revenue,cost_of_goods,gross_margin,cost_to_serve,acquisition_cost,"
        "profit", "2025,6,372.0000,183.0000,189.0000,90.0000,0.0000,99.0000"]
    code, _, err = run_cli("catalogue", "profit", "--by", "segment")
    assert code != 0 and err == ("error: profit by segment needs the analytical plugin's saved "
                                 "segments: crmkit plugins enable analytical\n")


def test_each_cost_setting_changes_the_cost_to_serve(crm, clock, catalogue):
    api = build(crm, clock, catalogue)
    crm.plugins.configure("catalogue", {"cost_to_serve": {
        "event_costs": {"case.opened": "40"}, "cost_per_hour": "0"}})
    costs = {x.key: x.cost_to_serve for x in api.profit("customer", AS_OF)}
    assert costs == {"C1": Decimal(80), "C2": Decimal(0), "C3": Decimal(0), "C4": Decimal(0),
                     "C5": Decimal(40), "C6": Decimal(0)}


def test_handling_time_is_rounded_half_up_alike_in_every_report(crm, clock, catalogue):
    # one money unit (0.0001) a minute: 2.5 minutes cost 2.5 units, rounded half up to 3
    # both in the profit report and in the profit other plugins rank customers by
    # (PostgreSQL rounds a float's tie to even: 2)
    api = build(crm, clock, catalogue)
    crm.plugins.configure("catalogue", {"cost_to_serve": {"event_costs": {},
                                                          "cost_per_hour": "0.0060"}})
    crm.interactions.record("C3", at(2025, 2, 1), kind="call", payload={"handling_minutes": 2.5})
    costs = {x.key: x.cost_to_serve for x in api.profit("customer", AS_OF)}
    assert (costs["C3"], costs["C2"]) == (Decimal("0.0003"), Decimal("0.0020"))
    crm.plugins.enable("analytical")
    by_profit = {s.external_id: s.monetary for s in crm.plugin("analytical").rfm(AS_OF, "profit")}
    assert (by_profit["C3"], by_profit["C2"]) == (Decimal("21.9997"), Decimal("38.9980"))


def test_rfm_monetary_on_profit_and_margin(crm, clock, catalogue, run_cli):
    build(crm, clock, catalogue)
    crm.plugins.enable("analytical", {"rfm": {"bins": 3}})
    analytical = crm.plugin("analytical")
    by_profit = {s.external_id: (s.monetary, s.m) for s in analytical.rfm(AS_OF, "profit")}
    # profit 29, 22, 21, 18, 14, −5: M = ⌊3 × (customers with less) / 6⌋ + 1, 3 for the best
    assert by_profit == {"C2": (Decimal(29), 3), "C3": (Decimal(22), 3), "C5": (Decimal(21), 2),
                         "C6": (Decimal(18), 2), "C4": (Decimal(14), 1), "C1": (Decimal(-5), 1)}
    by_margin = {s.external_id: s.monetary for s in analytical.rfm(AS_OF, "margin")}
    assert by_margin == {"C1": 45, "C2": 39, "C3": 22, "C4": 19, "C5": 46, "C6": 18}
    revenue = {s.external_id: s.monetary for s in analytical.rfm(AS_OF)}
    assert revenue["C5"] == 108 and revenue["C1"] == 76  # the default is unchanged
    code, out, _ = run_cli("analytical", "rfm", "--measure", "profit", "--as-of", "2025-07-01",
                           "--format", "csv")
    assert code == 0 and "C1,91,4,-5.0000,1,3,1,at risk" in out.splitlines()  # Apr 1 → Jul 1


def test_clv_on_margin_fits_the_spend_model_on_each_repeat_purchase_margin(crm, clock, catalogue,
                                                                           run_cli):
    import numpy as np
    import pytest
    from crmkit_analytical import gammagamma

    from crmkit.errors import ValidationError

    build(crm, clock, catalogue)
    # a purchase without line items has no known margin (0) but is a purchase day
    crm.interactions.record("C6", at(2025, 6, 20), kind="purchase", amount=Decimal(40))
    crm.plugins.enable("analytical", {"clv": {"penalizer_coef": 0.01, "margin": 0.5}})
    analytical = crm.plugin("analytical")
    # every order is on its own day: x = orders − 1; monetary = the repeat orders' margins / x
    # C1 (16 + 14 + 3) / 3, C2 (14 + 9) / 2, C3 (14 + 4) / 2, C4 (7 + 6) / 2,
    # C5 (12 + 12 + 3) / 3, C6 (4 + 10 + 0) / 3
    hand = {"C1": (3, Decimal(11)), "C2": (2, Decimal("11.5")), "C3": (2, Decimal(9)),
            "C4": (2, Decimal("6.5")), "C5": (3, Decimal(9)),
            "C6": (3, Decimal("4.6667"))}
    got = {s.external_id: (s.frequency, s.monetary)
           for s in analytical.clv_summary(AS_OF, measure="margin")}
    assert got == hand
    # on revenue: C1 (30 + 18 + 8) / 3 = 18.6667, C6 (5 + 15 + 40) / 3 = 20
    revenue = {s.external_id: s.monetary for s in analytical.clv_summary(AS_OF)}
    assert (revenue["C1"], revenue["C6"]) == (Decimal("18.6667"), Decimal(20))
    # the Gamma-Gamma fit and expected spend take exactly those monetary values
    x = np.array([hand[c][0] for c in CUSTOMERS], dtype=float)
    m = np.array([float(hand[c][1]) for c in CUSTOMERS])
    expected = gammagamma.fit(x, m, penalizer_coef=0.01)
    fitted, predictions = analytical.clv_predict(AS_OF, measure="margin")
    assert fitted.measure == "margin"
    for name in ("p", "q", "v"):
        assert fitted.gamma_gamma[name] == pytest.approx(getattr(expected.params, name), rel=1e-9)
    assert predictions.monetary_units.tolist() == [int(hand[c][1] * 10000) for c in CUSTOMERS]
    spend = gammagamma.expected_spend(expected.params, x, m)
    assert predictions.spend_cents.tolist() == [int(v) for v in np.round(spend * 100)]
    # clv.margin (the share of revenue kept) is not applied to a model of margin
    revenue_fit, on_revenue = analytical.clv_predict(AS_OF)
    assert revenue_fit.measure == "revenue"
    # the same BG/NBD fit: CLV / expected spend is the same purchase factor on both measures,
    # halved on revenue by clv.margin 0.5 (to the cents' rounding)
    np.testing.assert_allclose(on_revenue.clv_cents / on_revenue.spend_cents,
                               0.5 * predictions.clv_cents / predictions.spend_cents, rtol=2e-3)
    # through the CLI: the same parameters, kept with their measure, reused by predict
    code, out, err = run_cli("analytical", "clv", "fit", "--as-of", "2025-07-01T12:00:00Z",
                             "--measure", "margin", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["gamma_gamma"]["p"] == fitted.gamma_gamma["p"]
    assert analytical.latest_clv_fit().measure == "margin"
    code, out, err = run_cli("analytical", "clv", "predict", "--as-of", "2025-07-01T12:00:00Z",
                             "--measure", "margin", "--format", "csv", "--no-store")
    assert code == 0, err
    assert out.splitlines()[1].startswith("C1,3,") and ",11.0000," in out.splitlines()[1]
    # a measure no enabled plugin provides: one clear error, nothing kept
    crm.plugins.disable("catalogue")
    message = ("measure: no enabled plugin provides 'margin' per purchase (revenue is built in; "
               "margin comes with the catalogue plugin)")
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        analytical.clv_fit(AS_OF, measure="margin")
    code, out, err = run_cli("analytical", "clv", "predict", "--measure", "margin")
    assert code != 0 and out == "" and err.strip() == f"error: {message}"
