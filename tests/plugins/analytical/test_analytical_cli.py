"""Every ``crmkit analytical`` command through the CLI runner, with --as-of and --format json/csv."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys

import pytest

from analytical_simulate import purchase_history
from analytical_support import UTC, at, days_ago, record, row

AS_OF = "2025-01-01T12:00:00+00:00"
STAGES = {"funnel": {"stages": ["lead", "qualified", "proposal", "won"], "won_stage": "won",
                     "lost_stages": ["lost"]}}


def emit_stage(crm, clock, when, customer_id, record_id, old, new, owner):
    clock.set(when)
    with crm.transaction() as tx:
        tx.emit("stage.changed", customer_id, {"entity": "opportunity", "record_id": record_id,
                                               "from": old, "to": new, "owner": owner,
                                               "amount": None, "currency": None},
                source="operational")


@pytest.fixture
def shop(crm, clock):
    """Purchases (fit-able), surveys, complaints and funnel events; the clock back at AS_OF."""
    crm.plugins.enable("analytical", dict(STAGES, satisfaction={"min_sample": 3}))
    rows, _, _ = purchase_history(customers=120)
    record(crm, rows)
    record(crm, [row("S0000", days_ago(2), "survey", nps=10, csat=5, ces=2, comment="Late delivery"),
                 row("S0001", days_ago(3), "survey", nps=6, csat=2, ces=5),
                 row("S0002", days_ago(4), "survey", nps=9, csat=4, ces=2),
                 row("S0003", days_ago(5), "complaint", text="The product BROKE")])
    start = dt.datetime(2024, 12, 1, 9, tzinfo=UTC)
    day = dt.timedelta(days=1)
    emit_stage(crm, clock, start, 1, 1, None, "lead", "ana")
    emit_stage(crm, clock, start, 2, 2, None, "lead", "ben")
    emit_stage(crm, clock, start + day, 3, 3, None, "lead", "ana")
    emit_stage(crm, clock, start + 2 * day, 1, 1, "lead", "qualified", "ana")
    emit_stage(crm, clock, start + 2 * day, 4, 4, None, "lead", "ben")
    emit_stage(crm, clock, start + 3 * day, 3, 3, "lead", "qualified", "ana")
    emit_stage(crm, clock, start + 4 * day, 2, 2, "lead", "qualified", "ben")
    emit_stage(crm, clock, start + 5 * day, 2, 2, "qualified", "lost", "ben")
    emit_stage(crm, clock, start + 6 * day, 1, 1, "qualified", "proposal", "ana")
    emit_stage(crm, clock, start + 10 * day, 1, 1, "proposal", "won", "ana")
    clock.set(at(AS_OF))
    return crm


def run_json(run_cli, *args):
    code, out, err = run_cli("analytical", *args, "--as-of", AS_OF, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def run_csv(run_cli, *args, as_of=True):
    extra = ("--as-of", AS_OF) if as_of else ()
    code, out, err = run_cli("analytical", *args, *extra, "--format", "csv")
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


def test_rfm(shop, run_cli):
    api = shop.plugin("analytical")
    rows = run_json(run_cli, "rfm")
    expected = {s.external_id: s for s in api.rfm(at(AS_OF))}
    assert len(rows) == len(expected) == 120
    first = rows[0]
    s = expected[first["customer"]]
    assert (first["r"], first["f"], first["m"], first["monetary"], first["segment"]) == (
        s.r, s.f, s.m, str(s.monetary), s.segment)
    summary = run_csv(run_cli, "rfm", "--summary")
    assert {r["segment"]: int(r["customers"]) for r in summary} == api.rfm_segments(at(AS_OF))
    grid = run_csv(run_cli, "rfm", "--grid")
    assert sum(int(r["customers"]) for r in grid) == 120


def test_rfm_csv_streams_every_customer_as_the_api_scores_them(shop, run_cli):
    rows = run_csv(run_cli, "rfm")
    assert [(r["customer"], int(r["recency_days"]), int(r["frequency"]), r["monetary"],
             int(r["r"]), int(r["f"]), int(r["m"]), r["segment"] or None) for r in rows] == [
        (s.external_id, s.recency_days, s.frequency, str(s.monetary), s.r, s.f, s.m, s.segment)
        for s in shop.plugin("analytical").rfm(at(AS_OF))]


def test_clv_fit_document_shape(shop, run_cli):
    assert shop.plugin("analytical").latest_clv_fit() is None
    document = run_json(run_cli, "clv", "fit", "--time-unit", "week")
    assert set(document) == {"bgnbd", "gamma_gamma"}
    assert list(document["bgnbd"]) == ["r", "alpha", "a", "b", "log_likelihood", "customers"]
    assert list(document["gamma_gamma"]) == ["p", "q", "v", "log_likelihood", "customers"]
    fit = shop.plugin("analytical").clv_fit(at(AS_OF))
    assert document["bgnbd"]["r"] == pytest.approx(fit.bgnbd["r"])
    assert document["bgnbd"]["customers"] == 120
    days = run_json(run_cli, "clv", "fit", "--time-unit", "day")
    assert days["bgnbd"]["alpha"] == pytest.approx(7 * document["bgnbd"]["alpha"], rel=1e-3)
    kept = shop.plugin("analytical").latest_clv_fit()  # the latest fit is kept for the card
    assert (kept.time_unit, kept.as_of, kept.document()) == ("day", at(AS_OF), days)


def test_the_customer_card_reads_a_kept_fit_without_its_calibration_summary(
        shop, run_cli, statements):
    run_json(run_cli, "clv", "fit")
    api = shop.plugin("analytical")
    with statements(shop.engine, "analytical_clv_fits") as seen:
        fitted, prediction = api.customer_clv(shop.customers.list(limit=1)[0].external_id,
                                              at(AS_OF))
    assert seen and not any("summary" in statement for statement in seen)
    assert fitted.bgnbd == run_json(run_cli, "clv", "fit")["bgnbd"]


def test_clv_predict_rows(shop, run_cli):
    rows = run_csv(run_cli, "clv", "predict", "--horizon", "26", "--discount-rate", "0.02",
                   "--months", "6")
    assert list(rows[0]) == ["customer", "frequency", "recency", "T", "monetary", "p_alive",
                             "expected_purchases", "expected_spend", "clv"]
    assert len(rows) == 120
    api = shop.plugin("analytical")
    expected = {p.external_id: p for p in api.clv_predictions(
        at(AS_OF), horizon=26, discount_rate=0.02, months=6)}
    for r in rows[:10]:
        p = expected[r["customer"]]
        assert (int(r["frequency"]), r["clv"], r["expected_spend"]) == (
            p.frequency, str(p.clv), str(p.expected_spend))
        assert float(r["expected_purchases"]) == pytest.approx(p.expected_purchases, abs=1e-4)
    assert api.last_clv_run() is not None  # stored by default
    runs = run_csv(run_cli, "clv", "runs", as_of=False)
    assert runs[0]["months"] == "6" and int(runs[0]["customers"]) == 120


def test_clv_formula(run_cli):
    code, out, err = run_cli("analytical", "clv", "formula", "--margin", "100", "--retention",
                             "0.8", "--discount", "0.1", "--periods", "1", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["clv"] == "72.73"
    code, out, _ = run_cli("analytical", "clv", "formula", "--margin", "100", "--retention",
                           "0.8", "--discount", "0.1", "--format", "csv")
    assert "clv: 266.67" in out or "266.67" in out
    code, out, err = run_cli("analytical", "clv", "formula", "--margin", "100", "--retention",
                             "0.8", "--discount", "0.1", "--periods", "x")
    assert code != 0 and err.strip() == "error: --periods: 'x' is not a whole number (or 'inf')"


@pytest.mark.parametrize("margin, discount, message", [
    ("NaN", "0.1", "error: margin: 'NaN' is not a finite number"),
    ("-Infinity", "0.1", "error: margin: '-Infinity' is not a finite number"),
    ("100", "Infinity", "error: discount: 'Infinity' is not a finite number"),
    ("1e400", "0.1", "error: margin: '1e400' is out of range (|margin| < 10^14)"),
])
def test_clv_formula_refuses_non_finite_and_out_of_range_inputs(run_cli, margin, discount,
                                                                 message):
    code, out, err = run_cli("analytical", "clv", "formula", "--margin", margin, "--retention",
                             "0.8", "--discount", discount)
    assert (code, out, err.strip()) == (1, "", message)


def test_clv_formula_refuses_a_clv_beyond_the_money_range(run_cli):
    code, _, err = run_cli("analytical", "clv", "formula", "--margin", "100", "--retention",
                           "0.99999999999999999999", "--discount", "0")
    assert code == 1 and err.strip() == (
        "error: the CLV 1.000E+22 is out of range (|CLV| < 10^14): "
        "lower the margin, the retention or the periods")


def test_clv_fit_without_data_is_one_clear_line(crm, run_cli):
    crm.plugins.enable("analytical")
    record(crm, [row("A", "2024-12-01", amount=10)])
    code, out, err = run_cli("analytical", "clv", "fit", "--as-of", AS_OF)
    assert code != 0 and out == ""
    assert err.strip() == ("error: BG/NBD fit needs repeat purchases; none of the 1 customers "
                           "has bought on more than one day")


def test_value(shop, run_cli):
    rows = run_json(run_cli, "value")
    assert len(rows) == 120 and set(rows[0]) == {"customer", "current_value", "potential_value"}


def test_lifecycle(shop, run_cli):
    counts = run_json(run_cli, "lifecycle")
    assert sum(r["customers"] for r in counts) == 120  # survey/complaint-only customers: none
    each = run_csv(run_cli, "lifecycle", "--customers", "--update")
    stages = shop.plugin("analytical").lifecycle_stages(at(AS_OF))
    assert len(each) == len(stages)
    assert len(shop.events.list(type="lifecycle.changed", limit=None)) == len(stages)


def test_retention(shop, run_cli):
    rows = run_json(run_cli, "retention", "--period", "quarter", "--periods", "2")
    assert [r["period"] for r in rows] == ["2024-Q3", "2024-Q4"]
    api_rows = shop.plugin("analytical").retention(at(AS_OF), "quarter", 2)
    assert [r["crr"] for r in rows] == [p.crr for p in api_rows]
    assert run_csv(run_cli, "retention", "--periods", "1")[0]["period"] == "2024-12"


def test_cohorts(shop, run_cli):
    rows = run_json(run_cli, "cohorts", "--cohorts", "30", "--months", "1")
    cells = shop.plugin("analytical").cohorts(at(AS_OF), 30, 1)
    assert [(r["cohort"], r["month"], r["buyers"]) for r in rows] == [
        (c.cohort, c.month, c.buyers) for c in cells]
    assert rows[0]["cohort"] == "2023-01" and rows[-1]["cohort"] <= "2025-01"
    assert all(r["share"] == 100.0 for r in rows if r["month"] == 0)
    assert sum(r["size"] for r in rows if r["month"] == 0) == 120
    assert run_csv(run_cli, "cohorts")[0].keys() == {"cohort", "size", "month", "buyers", "share",
                                                      "revenue_per_member"}


def test_satisfaction(shop, run_cli):
    rows = {r["metric"]: r for r in run_json(run_cli, "satisfaction")}
    # NPS answers 10, 6, 9: (2 − 1) / 3; CSAT 5, 2, 4: 2 of 3; CES (2 + 5 + 2) / 3
    assert (rows["nps"]["value"], rows["csat"]["value"], rows["ces"]["value"]) == (33.3, 66.7, 3.0)
    assert rows["nps"]["insufficient"] is False  # min_sample 3
    months = run_csv(run_cli, "satisfaction", "--by-month")
    assert [m["month"] for m in months] == ["2024-12"] and months[0]["nps_responses"] == "3"


def test_voc(shop, run_cli):
    rows = run_json(run_cli, "voc", "--since", "2024-12-01")
    assert rows == [{"month": "2024-12", "tag": "delivery", "count": 1},
                    {"month": "2024-12", "tag": "quality", "count": 1}]


def test_funnel(shop, run_cli):
    steps = run_json(run_cli, "funnel")
    got = [(s["stage"], s["reached"], s["conversion"], s["median_days"]) for s in steps]
    # records 1-4 enter; 1, 2, 3 qualify; 1 reaches proposal and wins; 2 is lost
    # days in lead: 2, 4, 2 → 2; in qualified: 4, 1 → 2.5; in proposal: 4
    assert got == [("lead", 4, 75.0, 2.0), ("qualified", 3, 33.3, 2.5),
                   ("proposal", 1, 100.0, 4.0), ("won", 1, None, None)]
    outcomes = run_csv(run_cli, "funnel", "--outcomes", "--by", "owner")
    assert {r["group"]: (r["won"], r["lost"], r["win_rate"]) for r in outcomes} == {
        "ana": ("1", "0", "100.0"), "ben": ("0", "1", "0.0")}


def test_pareto(shop, run_cli):
    document = run_json(run_cli, "pareto")
    result = shop.plugin("analytical").pareto(at(AS_OF))
    assert document["customers"] == 120 and document["top_customers"] == 24
    assert document["top_revenue_share"] == result.top_revenue_share
    code, out, _ = run_cli("analytical", "pareto", "--as-of", AS_OF, "--format", "csv")
    assert code == 0 and "customers_for_target: " in out


def test_ladder(shop, run_cli):
    counts = {r["rung"]: r["customers"] for r in run_json(run_cli, "ladder")}
    assert counts == shop.plugin("analytical").ladder_counts(at(AS_OF))
    each = {r["customer"]: r for r in run_csv(run_cli, "ladder", "--customers")}
    assert each["S0000"]["rung"] == "advocate"  # NPS 10: a promoter


def test_segments(shop, run_cli):
    condition = json.dumps({"field": "rfm.segment", "op": "eq", "value": "champions"})
    code, out, err = run_cli("analytical", "segments", "add", "best", "--if", condition,
                             "--description", "RFM champions")
    assert code == 0, err
    listed = run_csv(run_cli, "segments", "list", as_of=False)
    assert [r["name"] for r in listed] == ["best"]
    members = run_json(run_cli, "segments", "show", "best")
    champions = sorted(s.external_id for s in shop.plugin("analytical").rfm(at(AS_OF))
                       if s.segment == "champions")
    assert sorted(m["customer"] for m in members) == champions and champions
    preview = run_csv(run_cli, "segments", "preview", "--if", condition)
    assert sorted(r["customer"] for r in preview) == champions
    code, _, err = run_cli("analytical", "segments", "add", "bad", "--if", "{not json")
    assert code != 0 and err.startswith("error: --if: not valid JSON")
    code, out, _ = run_cli("analytical", "segments", "remove", "best")
    assert code == 0 and shop.plugin("analytical").segment_names() == []


def test_kpis(crm, run_cli):
    crm.plugins.enable("analytical", {"kpis": [
        {"name": "revenue", "metric": "revenue", "target": 100, "deadline": "2025-12-31",
         "owner": "ana"}]})
    record(crm, [row("K", "2025-01-01T09:00", amount=95)])
    [kpi] = run_json(run_cli, "kpis")
    assert (kpi["value"], kpi["attainment"], kpi["status"], kpi["period_start"]) == (
        95.0, 0.95, "at_risk", "2025-01-01")
    [early] = run_csv(run_cli, "kpis")
    assert early["status"] == "at_risk"


def test_plot_without_matplotlib_says_how_to_install(crm, run_cli, monkeypatch, tmp_path):
    tmp_path = tmp_path / "charts"
    tmp_path.mkdir()
    crm.plugins.enable("analytical")
    record(crm, [row("A", days_ago(5), amount=10)])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    for command in (["rfm"], ["cohorts"], ["funnel"], ["pareto"]):
        code, out, err = run_cli("analytical", *command, "--plot", str(tmp_path / "c.png"))
        assert code != 0 and out == ""
        assert err.strip() == ("error: --plot needs matplotlib, which is not installed: "
                               "pip install 'crmkit[plots]'")
    assert list(tmp_path.iterdir()) == []


def test_plot_file_name_must_be_png_or_svg(crm, run_cli, tmp_path):
    crm.plugins.enable("analytical")
    code, _, err = run_cli("analytical", "pareto", "--plot", str(tmp_path / "c.pdf"))
    assert code != 0 and "the file name must end in .png or .svg" in err


def test_plots_are_drawn(shop, run_cli, tmp_path):
    pytest.importorskip("matplotlib")
    for command, name in ((["rfm", "--grid"], "rfm.png"), (["cohorts"], "cohorts.svg"),
                          (["funnel"], "funnel.png"), (["pareto"], "pareto.svg"),
                          (["growth"], "growth.png"), (["phases"], "phases.svg")):
        target = tmp_path / name
        code, _, err = run_cli("analytical", *command, "--as-of", AS_OF, "--plot", str(target))
        assert code == 0, err
        assert f"chart written to {target}" in err
        head = target.read_bytes()[:200]
        assert head.startswith(b"\x89PNG") if name.endswith(".png") else b"<svg" in head


@pytest.mark.parametrize("command, reason", [
    ("rfm", "no customer has a purchase up to --as-of"),
    ("cohorts", "no cohort (no first purchase in the chosen months)"),
    ("funnel", "no funnel records (stage.changed events) to show"),
    ("pareto", "no customer has revenue up to --as-of"),
])
def test_plots_of_empty_data_write_nothing_and_say_so(crm, run_cli, tmp_path, command, reason):
    pytest.importorskip("matplotlib")
    crm.plugins.enable("analytical")
    target = tmp_path / "chart.png"
    code, out, err = run_cli("analytical", command, "--as-of", AS_OF, "--plot", str(target))
    assert code == 0, err
    assert err.strip() == f"nothing to plot: {reason}; no chart written to {target}"
    assert out and not target.exists()


def test_clv_predict_csv_text_is_what_the_decimals_print():
    import numpy as np
    from crmkit_analytical.cli import _prediction_rows
    from crmkit_analytical.results import CLVPredictions

    cents = np.array([0, 5, -5, 100, 4855, -123456789, 99], dtype=np.int64)
    units = np.array([0, 5, -5, 10000, 490810, -1234567891, 9999], dtype=np.int64)
    floats = np.array([0.0, 1e-5, 0.12345, 2.5, 69.57142857, 1e6, 3.0])
    p = CLVPredictions(np.arange(7), [f"C{i}" for i in range(7)], floats, floats, floats, units,
                       floats, floats, cents, cents[::-1].copy())
    decimal_rows = [tuple(str(cell) for cell in row) for row in _prediction_rows(p)]
    text_rows = [tuple(str(cell) for cell in row) for row in _prediction_rows(p, as_text=True)]
    assert text_rows == decimal_rows
    assert decimal_rows[2][4] == "-0.0005" and decimal_rows[2][7] == "-0.05"
