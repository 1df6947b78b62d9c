"""``--plot`` of the issue-24 metrics: equity's parts, the engagement distribution,
relationship quality's components and perceived value per segment — the file is written and
shows the series the listing shows."""

from __future__ import annotations

import pytest

from analytical_simulate import purchase_history
from analytical_support import AS_OF, days_ago, record, row

WHEN = AS_OF.isoformat()
SURVEYS = {"survey_items": {"pv_quality": {"min": 1, "max": 5}, "pv_price": {"min": 1, "max": 5}},
           "perceived_value": {"benefit": ["pv_quality"], "cost": ["pv_price"]}}


def drawn(run_cli, target, *command):
    code, out, err = run_cli("analytical", *command, "--as-of", WHEN, "--plot", str(target))
    assert code == 0, err
    assert f"chart written to {target}" in err
    head = target.read_bytes()[:400]
    assert head.startswith(b"\x89PNG") if target.suffix == ".png" else b"<svg" in head
    return out


def test_equity_parts_as_bars(crm, run_cli, tmp_path, drawn_charts):
    crm.plugins.enable("analytical", {"equity": {"conversion_probability": 0.2}})
    rows, _, _ = purchase_history(customers=120)
    record(crm, rows)
    crm.customers.add_many([{"external_id": f"P{i}"} for i in range(10)])
    got = crm.plugin("analytical").customer_equity(AS_OF)
    target = tmp_path / "equity.svg"
    drawn(run_cli, target, "equity", "--format", "json")
    assert drawn_charts.bars(target) == pytest.approx(
        [float(got.current_value), float(got.prospect_value), float(got.equity)])
    assert drawn_charts.ticks(target) == [f"current customers ({got.customers})",
                                          "prospects (10)", "equity"]


def test_engagement_distribution(crm, run_cli, tmp_path, drawn_charts):
    crm.plugins.enable("analytical", {"engagement": {"weights": {"purchase": 3,
                                                                 "email.open": 0.5}}})
    # A: a purchase 3 + two opens 0.5 = 4.0; B: a call 1.0; C: nothing in the window
    record(crm, [row("A", days_ago(10), amount=20), row("A", days_ago(5), "email.open"),
                 row("A", days_ago(5, hour=11), "email.open"), row("B", days_ago(1), "call"),
                 row("C", days_ago(200), amount=5)])
    target = tmp_path / "engagement.png"
    drawn(run_cli, target, "engagement")
    # ten bins from 1.0 to 4.0: B in the first, A in the last
    assert drawn_charts.bars(target) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    again = tmp_path / "engagement-customers.png"
    out = drawn(run_cli, again, "engagement", "--customers", "--format", "csv")
    assert out.splitlines() == ["external_id,interactions,score", "A,3,4.0", "B,1,1.0"]
    assert drawn_charts.bars(again) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_relationship_quality_components(crm, run_cli, tmp_path, drawn_charts):
    crm.plugins.enable("analytical")
    # B, behaviour only: interactions in one half of the year 50, no complaint 100, one
    # purchase day 50; index 66.67 (as test_cli_relationship_quality)
    record(crm, [row("B", days_ago(20), amount=10)])
    target = tmp_path / "relationship.png"
    drawn(run_cli, target, "relationship", "--format", "json")
    assert drawn_charts.bars(target) == [50.0, 100.0, 50.0, 66.67]
    assert drawn_charts.ticks(target) == ["trust", "satisfaction", "commitment", "index"]


def test_perceived_value_per_segment(crm, run_cli, tmp_path, drawn_charts):
    crm.plugins.enable("analytical", SURVEYS)
    record(crm, [row("R1", days_ago(3), "survey", pv_quality=5, pv_price=3),
                 row("R2", days_ago(3), "survey", pv_quality=3, pv_price=5),
                 row("R3", days_ago(3), "survey", pv_quality=4),
                 row("N1", days_ago(3), "call")])
    api = crm.plugin("analytical")
    api.save_segment("r1-r3", {"field": "external_id", "op": "in", "value": ["R1", "R3"]})
    api.save_segment("nobody", {"field": "external_id", "op": "eq", "value": "N1"})
    target = tmp_path / "value.svg"
    drawn(run_cli, target, "perceived-value")
    # benefit bars (all 75, r1-r3 87.5), then cost bars (75, 50); "nobody" has no respondent
    assert drawn_charts.bars(target) == [75.0, 87.5, 75.0, 50.0]
    assert drawn_charts.ticks(target) == ["all\nnet +0.0", "r1-r3\nnet +37.5"]
    assert drawn_charts.legend(target) == ["benefit", "cost"]


@pytest.mark.parametrize("command, config, reason", [
    ("engagement", {}, "no engaged customer in the window up to --as-of"),
    ("relationship", {}, "no customer scored up to --as-of"),
    ("perceived-value", SURVEYS, "no survey answer up to --as-of"),
])
def test_plots_of_nothing_write_no_file_and_say_so(crm, run_cli, tmp_path, command, config,
                                                   reason):
    pytest.importorskip("matplotlib")
    crm.plugins.enable("analytical", config)
    target = tmp_path / "chart.png"
    code, out, err = run_cli("analytical", command, "--as-of", WHEN, "--plot", str(target))
    assert code == 0, err
    assert err.strip().endswith(f"nothing to plot: {reason}; no chart written to {target}")
    assert not target.exists()
    code, _, err = run_cli("analytical", command, "--plot", str(tmp_path / "chart.gif"))
    assert code != 0 and "the file name must end in .png or .svg" in err
