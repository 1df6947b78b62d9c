"""The campaign report against hand-computed numbers, attribution by first and last touch,
and campaign revenue in operational's forecast."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from results_support import Campaigns, at

from crmkit.devtools.testing import api_client
from crmkit.errors import NotFound, ValidationError
from crmkit_campaigns.report import newcombe, wilson


@pytest.fixture
def shop(crm):
    crm.plugins.enable("campaigns")
    return Campaigns(crm)


def spring(shop):
    """The known-answer campaign (planned 1 Jan, window 10 days, cost 100 + 0.50 a message).

    Variant A: A1–A4 delivered, X1 bounced; variant B: B1–B4 delivered; holdout H1–H5.
    Opens A1 A2 B1, clicks A1 B1, B2 unsubscribes, B3 replies by email on 2 Jan.
    Purchases: A1 100.00 on 3 Jan, B1 80.00 on 5 Jan, A2 50.00 on 20 Jan (after the
    window), H1 30.00 on 4 Jan (a holdout conversion), and a purchase by A3 in EUR on 4 Jan
    (a conversion whose money is not in USD, the CRM's currency).
    """
    shop.customers(*[f"{g}{n}" for g in "ABH" for n in range(1, 6)], "X1")
    sent_at = at(1, 10)
    shop.campaign("spring", at(1), {**{f"A{n}": ("A", sent_at) for n in range(1, 5)},
                                     **{f"B{n}": ("B", sent_at) for n in range(1, 5)}},
                  held_out=[f"H{n}" for n in range(1, 6)], cost_fixed="100",
                  cost_per_message="0.50", attribution_days=10, bounced={"X1": "A"})
    for kind, who in [("message.opened", ("A1", "A2", "B1")), ("message.clicked", ("A1", "B1")),
                      ("message.unsubscribed", ("B2",))]:
        for external_id in who:
            shop.track(kind, "spring", external_id, at(2))
    shop.reply("B3", at(2, 9))
    shop.purchase("A1", "100.00", at(3))
    shop.purchase("B1", "80.00", at(5))
    shop.purchase("A2", "50.00", at(20))
    shop.purchase("H1", "30.00", at(4))
    shop.crm.interactions.record("A3", at(4), kind="purchase", amount=Decimal("12"),
                                 currency="EUR", external_id="EUR1")


def test_wilson_and_newcombe_match_published_values():
    # Newcombe (1998), Table II, example (e): 56/70 − 48/80 → 0.2, CI 0.0524 to 0.3339.
    uplift = newcombe(56, 70, 48, 80)
    assert (round(uplift.difference, 4), round(uplift.low, 4), round(uplift.high, 4)) == (
        0.2, 0.0524, 0.3339)
    low, high = wilson(0, 10)  # Newcombe (1998) Table I: 0/10 → 0 to 0.2775
    assert (low, round(high, 4)) == (0.0, 0.2775)
    assert newcombe(1, 2, 0, 0) is None


def test_an_roi_exactly_half_way_rounds_half_up(crm, shop):
    shop.customers("R1", "R2", "R3", "R4")
    shop.campaign("tie", at(1), {f"R{n}": (None, at(1, 10)) for n in range(1, 5)},
                  cost_fixed="30", cost_per_message="0.50", attribution_days=10)
    shop.purchase("R1", "25", at(2))
    shop.purchase("R2", "40", at(3))
    # cost 30 + 4 × 0.50 = 32; ROI (65 − 32) / 32 = 1.03125 → 1.0313 (not 1.0312, to even)
    line = crm.plugin("campaigns").report("tie", at(31)).all
    assert (line.revenue, line.cost, line.roi) == (
        Decimal("65"), Decimal("32"), Decimal("1.0313"))

def test_known_answer_report(crm, shop, clock):
    spring(shop)
    result = crm.plugin("campaigns").report("spring", at(31))
    document = json.loads(json.dumps(result.document(), default=str))
    # Sent 9 (8 delivered + X1 bounced); cost = 100 + 0.50 × 9 = 104.50.
    # Converted (credited, last touch): A1, B1 and A3 (EUR) → 3; revenue in USD 100 + 80 = 180.
    # ROI = (180 − 104.50) / 104.50 = 75.50 / 104.50 = 0.72248… → 0.7225.
    assert {k: document[k] for k in ("recipients", "sent", "delivered", "bounced", "opened",
                                     "clicked", "unsubscribed", "replied", "converted")} == {
        "recipients": 9, "sent": 9, "delivered": 8, "bounced": 1, "opened": 3, "clicked": 2,
        "unsubscribed": 1, "replied": 1, "converted": 3}
    assert (result.all.revenue, result.all.cost, result.all.roi) == (
        Decimal("180.0000"), Decimal("104.5000"), Decimal("0.7225"))
    # Uplift: treated 8 delivered, of whom A1, B1, A3 bought within 10 days of planning
    # (A2 on 20 Jan is late) → 3/8 = 0.375; holdout 1/5 = 0.2; uplift 0.175.
    # Wilson 3/8 (z = 1.959964, z² = 3.841459): denominator 1 + z²/8 = 1.480182, centre
    #   (0.375 + z²/16)/1.480182 = 0.415551, half 1.959964 × √(0.234375/8 + z²/256)/1.480182
    #   = 1.959964 × 0.210482/1.480182 = 0.278707 → 0.136844 to 0.694258.
    # Wilson 1/5: denominator 1.768292, centre (0.2 + 0.384146)/1.768292 = 0.330345, half
    #   1.959964 × √(0.16/5 + z²/100)/1.768292 = 1.959964 × 0.265357/1.768292 = 0.294121
    #   → 0.036224 to 0.624465.
    # Newcombe: low 0.175 − √((0.375 − 0.136844)² + (0.624465 − 0.2)²)
    #   = 0.175 − √(0.056718 + 0.180171) = 0.175 − 0.486712 = −0.311712;
    #   high 0.175 + √((0.694258 − 0.375)² + (0.2 − 0.036224)²)
    #   = 0.175 + √(0.101925 + 0.026823) = 0.175 + 0.358815 = 0.533815.
    assert document["holdout"] == {"size": 5, "conversions": 1, "rate": 0.2}
    uplift = document["uplift"]
    assert (uplift["difference"], uplift["method"], uplift["confidence"]) == (
        pytest.approx(0.175), "newcombe", 0.95)
    assert uplift["low"] == pytest.approx(-0.311712, abs=1e-5)
    assert uplift["high"] == pytest.approx(0.533815, abs=1e-5)
    # Per variant: A sent 5 (4 + X1), fixed cost 100 × 5/9 = 55.5556 + 2.50 = 58.0556;
    # B sent 4, 100 × 4/9 = 44.4444 + 2.00 = 46.4444.  A: revenue 100, roi 41.9444/58.0556
    # = 0.7225; B: revenue 80, roi 33.5556/46.4444 = 0.7225.
    a, b = result.variants
    assert [(v.group, v.recipients, v.sent, v.delivered, v.bounced, v.opened, v.clicked,
             v.unsubscribed, v.replied, v.converted, v.revenue, v.cost, v.roi) for v in (a, b)] == [
        ("A", 5, 5, 4, 1, 2, 1, 0, 0, 2, Decimal("100.0000"), Decimal("58.0556"),
         Decimal("0.7225")),
        ("B", 4, 4, 4, 0, 1, 1, 1, 1, 1, Decimal("80.0000"), Decimal("46.4444"),
         Decimal("0.7225"))]
    # Variant A: 2/4 bought in time (A1, A3) → 0.5 − 0.2 = 0.3; B: 1/4 → 0.05.
    assert (a.rate, b.rate) == (0.5, 0.25)
    assert (a.uplift.difference, b.uplift.difference) == (pytest.approx(0.3), pytest.approx(0.05))

    # As of 3 Jan noon only A1's purchase had happened.
    early = crm.plugin("campaigns").report("spring", at(3, 12))
    assert (early.all.converted, early.all.revenue, early.holdout.conversions) == (
        1, Decimal("100.0000"), 0)


def test_report_command_formats_and_errors(crm, shop, run_cli, cli_on_test_clock, tmp_path):
    spring(shop)
    code, out, err = run_cli("campaigns", "report", "spring", "--as-of", "2025-01-31",
                             "--format", "json")
    document = json.loads(out)
    for key in ("sent", "delivered", "bounced", "opened", "clicked", "unsubscribed",
                "converted", "revenue", "cost", "roi", "holdout", "uplift"):
        assert key in document
    assert (document["revenue"], document["cost"], document["roi"]) == (
        "180.0000", "104.5000", "0.7225")
    code, out, err = run_cli("campaigns", "report", "spring", "--as-of", "2025-01-31",
                             "--format", "csv", "--plot", str(tmp_path / "spring.png"))
    assert code == 0 and err == f"chart written to {tmp_path / 'spring.png'}\n"
    assert (tmp_path / "spring.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["group"], r["sent"], r["converted"], r["rate"], r["uplift"]) for r in rows] == [
        ("all", "9", "3", "0.375", "0.175"), ("variant A", "5", "2", "0.5", "0.3"),
        ("variant B", "4", "1", "0.25", "0.05"), ("holdout", "", "1", "0.2", "")]
    code, out, err = run_cli("campaigns", "report", "nope")
    assert (code, out, err) == (1, "", "error: no campaign 'nope' (see `crmkit campaigns list`)\n")
    code, out, err = run_cli("campaigns", "report", "spring", "--plot", "chart.pdf")
    assert (code, err) == (1, "error: --plot chart.pdf: the file name must end in .png or .svg\n")
    missing = tmp_path / "no-such-folder" / "spring.png"
    code, out, err = run_cli("campaigns", "report", "spring", "--as-of", "2025-01-31",
                             "--plot", str(missing))
    assert (code, err) == (1, f"error: --plot {missing}: cannot write the file: "
                              "No such file or directory\n")


def two_campaigns(shop):
    """C is touched by c1 on 1 Jan and by c2 on 3 Jan (30-day windows); D only by c1."""
    shop.customers("C", "D")
    shop.campaign("c1", at(1), {"C": (None, at(1, 9)), "D": (None, at(1, 9))},
                  attribution_days=30)
    shop.campaign("c2", at(3), {"C": (None, at(3, 9))}, attribution_days=30)


@pytest.mark.parametrize("model, c1, c2", [
    # C's purchase on 5 Jan: first touch c1, last touch c2; D's (2 Jan) is c1's either way;
    # C's purchase on 31 Dec came before any touch and is nobody's.
    ("first_touch", (2, Decimal("70.0000")), (0, Decimal("0"))),
    ("last_touch", (1, Decimal("10.0000")), (1, Decimal("60.0000"))),
])
def test_first_and_last_touch(crm, shop, model, c1, c2):
    crm.plugins.enable("campaigns", {"attribution": {"model": model}})
    two_campaigns(shop)
    shop.purchase("C", "5.00", at(31, month=12, year=2024))
    shop.purchase("C", "60.00", at(5))
    shop.purchase("D", "10.00", at(2))
    api = crm.plugin("campaigns")
    got = {name: (api.report(name, at(20)).all.converted, api.report(name, at(20)).all.revenue)
           for name in ("c1", "c2")}
    assert got == {"c1": c1, "c2": c2}


def test_a_redeemed_coupon_credits_its_campaign_whatever_the_model(crm, shop):
    crm.plugins.enable("campaigns", {"attribution": {"model": "last_touch"}})
    two_campaigns(shop)
    api = crm.plugin("campaigns")
    api.set_offer("c1", "percent", "10")
    code = {c.customer: c.code for c in api.coupons("c1")}["C"]
    shop.purchase("C", "60.00", at(5), coupon=code)  # last touch is c2, but c1's coupon
    assert api.report("c1", at(20)).all.revenue == Decimal("60.0000")
    assert api.report("c2", at(20)).all.converted == 0


def test_unknown_campaign(crm, shop):
    with pytest.raises(NotFound, match="no campaign 'nope'"):
        crm.plugin("campaigns").report("nope")


def test_a_report_as_of_before_the_campaign_existed_is_refused(crm, shop):
    spring(shop)
    with pytest.raises(ValidationError, match=r"as_of 2000-01-01T00:00:00\+00:00: campaign "
                                              r"'spring' was created at .*; report it as of "
                                              "then or later"):
        crm.plugin("campaigns").report("spring", at(1, year=2000))


def test_campaign_revenue_in_the_operational_forecast(crm, shop):
    crm.plugins.enable("operational")
    crm.plugins.enable("campaigns")
    shop.customers(*[f"F{n}" for n in range(1, 6)])
    shop.campaign("autumn", at(1), {f"F{n}": (None, at(1, 9)) for n in range(1, 6)},
                  attribution_days=10)
    shop.purchase("F1", "40.00", at(2))
    # As of 5 Jan: 4 delivered recipients have not bought and their window is open until
    # 11 Jan; so far 1 of 5 converted (20 %) bringing 40.00 each: amount 4 × 40 = 160,
    # weighted 160 × 20 % = 32.
    [row] = [r for r in crm.plugin("operational").weighted_pipeline(at(5))
             if r["stage"] == "campaign autumn"]
    assert row == {"stage": "campaign autumn", "currency": "USD", "opportunities": 4,
                   "amount": Decimal("160.0000"), "weighted": Decimal("32.0000"),
                   "probability": 20}
    # After the window closed nothing more is expected.
    assert [r for r in crm.plugin("operational").weighted_pipeline(at(12))
            if r["stage"] == "campaign autumn"] == []


def test_dashboard_panel(crm, shop):
    spring(shop)
    [panel] = [p for _, found in crm.hooks.call("crmkit_dashboard_panels", None, crm=crm,
                                                principal=None, as_of=at(31))
               for p in found or ()]
    assert (panel.name, panel.chart, panel.y) == ("campaigns.results", "bar", (3, 4))
    assert panel.columns[3] == "Revenue (USD)"
    # Uplift 0.175 → 17.5 points, interval −31.2 to 53.4 (see test_known_answer_report).
    assert panel.rows == (("spring", 9, 3, Decimal("180.0000"), Decimal("104.5000"),
                           Decimal("0.7225"), 17.5, -31.2, 53.4),)


def test_report_and_coupons_routes(crm, shop):
    spring(shop)
    with api_client(crm, role="admin") as client:
        answer = client.get("/api/v1/campaigns/campaigns/spring/report",
                            params={"as_of": "2025-01-31T00:00:00Z"})
        assert answer.status_code == 200
        document = answer.json()
        assert (document["sent"], document["converted"], document["revenue"], document["cost"],
                document["roi"], document["holdout"]) == (
            9, 3, "180.0000", "104.5000", "0.7225", {"size": 5, "conversions": 1, "rate": 0.2})
        assert document["uplift"]["low"] == pytest.approx(-0.311712, abs=1e-5)
        assert [v["variant"] for v in document["variants"]] == ["A", "B"]
        assert client.get("/api/v1/campaigns/campaigns/nope/report").status_code == 404
        assert client.get("/api/v1/campaigns/campaigns/spring/coupons").json() == {
            "items": [], "next_cursor": None}


def test_crm_roi_and_acquisition_cost_of_a_period_by_hand(crm, shop, run_cli, cli_on_test_clock):
    spring(shop)
    # 10 a day of running the CRM, 2 a day of acquisition outside campaigns
    crm.plugins.configure("campaigns", {"costs": {"crm_per_month": 304.375,
                                                  "acquisition_per_month": 60.875}})
    since = at(31, month=12, year=2024)
    got = crm.plugin("campaigns").returns(since, at(31))
    # 31 days = 31 / 30.4375 months; CRM cost 10 x 31 = 310; cost 104.50 (spring) + 310 =
    # 414.50; ROI (180 - 414.50) / 414.50 = -0.5657 -> -0.57.  Acquisition 104.50 + 2 x 31
    # = 166.50 over the 5 first-time buyers of January (A1, B1, A2, H1, A3): 33.30
    assert {k: got[k] for k in ("campaigns", "months", "revenue", "campaign_cost", "crm_cost",
                                "cost", "roi", "acquisition_cost", "new_customers", "cac")} == {
        "campaigns": ["spring"], "months": 1.02, "revenue": Decimal("180.00"),
        "campaign_cost": Decimal("104.50"), "crm_cost": Decimal("310.00"),
        "cost": Decimal("414.50"), "roi": Decimal("-0.57"),
        "acquisition_cost": Decimal("166.50"), "new_customers": 5, "cac": Decimal("33.30")}
    assert crm.plugin("campaigns").returns(at(2), at(31))["campaigns"] == []  # made on 1 Jan
    with pytest.raises(ValidationError, match="since: .* is not before as_of"):
        crm.plugin("campaigns").returns(at(31), at(31))
    code, out, _ = run_cli("campaigns", "returns", "--since", "2024-12-31", "--as-of",
                           "2025-01-31", "--format", "json")
    assert code == 0 and json.loads(out)["cac"] == "33.30"


def test_returns_plot_shows_the_benefit_against_the_costs(crm, shop, run_cli, tmp_path,
                                                          drawn_charts):
    spring(shop)
    crm.plugins.configure("campaigns", {"costs": {"crm_per_month": 304.375}})
    target = tmp_path / "returns.png"
    code, _, err = run_cli("campaigns", "returns", "--since", "2024-12-31", "--as-of",
                           "2025-01-31", "--plot", str(target))
    assert code == 0 and err == f"chart written to {target}\n"
    assert target.read_bytes()[:4] == b"\x89PNG"
    axes = drawn_charts.axes(target)
    # as test_crm_roi_and_acquisition_cost_of_a_period_by_hand: revenue 180, spring's cost
    # 104.50, the CRM's 310; ROI (180 - 414.50) / 414.50 = -0.57; CAC 104.50 / 5 = 20.90
    assert drawn_charts.bars(target) == [180.0, 104.5, 310.0]
    assert drawn_charts.ticks(target) == ["revenue", "campaign cost", "crm cost"]
    assert axes.get_title() == "CRM returns: ROI -0.57, CAC 20.90 (5 new customers)"
    crm.plugins.configure("campaigns", {})  # no running cost: February has nothing to show
    code, _, err = run_cli("campaigns", "returns", "--since", "2025-02-01", "--as-of",
                           "2025-02-28", "--plot", str(tmp_path / "none.png"))
    assert code == 0 and err == ("nothing to plot: no revenue and no cost in the period; no "
                                 f"chart written to {tmp_path / 'none.png'}\n")


def test_the_360_card_shows_each_campaign_s_outcome_and_the_coupons(crm, shop):
    from sqlalchemy import insert

    from crmkit.auth import Principal
    from crmkit.plugin import translating
    from crmkit_campaigns.card import card
    from crmkit_campaigns.tables import coupons

    spring(shop)
    shop.planned("summer", at(2), "A1")
    with crm.connect(write=True) as conn:
        conn.execute(insert(coupons).values(
            code="SPRING-A1", campaign_id=None, customer_id=crm.customers.get("A1").id,
            kind="amount", value=Decimal("5"), currency="USD", expires_at=at(31),
            max_uses=1, uses=1, source="test", issued_at=at(1)))
        conn.commit()
    admin = Principal("ana", "admin", frozenset({"*"}))
    shown = card(crm, admin, {"external_id": "A1"})
    assert shown.title == "Campaigns"
    assert shown.rows == (("Campaign summer", "planned, not sent yet"),
                          ("Campaign spring", "message sent"),
                          ("Coupon SPRING-A1", "5.00, used 1 of 1 times, expires Jan 31, 2025"))
    assert card(crm, admin, {"external_id": "H1"}).rows == (
        ("Campaign spring", "held out (the control group: nothing sent)"),)
    assert card(crm, admin, {"external_id": "X1"}).rows == (
        ("Campaign spring", "message bounced"),)
    crm.customers.add("NEW")
    nothing = card(crm, admin, {"external_id": "NEW"})
    assert (nothing.rows, nothing.note) == ((), "in no campaign yet")
    with translating(crm, "zh-Hans"):
        assert card(crm, admin, {"external_id": "H1"}).title == "营销活动"
