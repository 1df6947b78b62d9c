"""analytical's part of ``crmkit demo`` on a small sample: what it prints is what it stored."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

from analytical_support import record, row
from crmkit import demo as sample


@pytest.fixture
def demo_crm(crm, clock, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # charts of a PostgreSQL demo go to the working directory
    clock.set(sample.DEMO_END)
    crm.plugins.enable("analytical")
    rng = random.Random(1)  # a sample whose CLV models are identified
    rows = sample.customers(rng, 150)
    crm.customers.add_many(rows)
    people = [r["external_id"] for r in rows if r.get("type") != "organisation"]
    crm.interactions.record_many(sample.interactions(crm, rng, people, 12.0, end=sample.DEMO_END))
    return crm


def run_demo(crm):
    return crm.hooks.call_one("analytical", "crmkit_demo", None, crm=crm, rng=random.Random(1))


def refresh_demo(crm):
    return crm.hooks.call_one("analytical", "crmkit_demo_refresh", None, crm=crm)


def test_demo_reports_what_it_stored(demo_crm, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    lines = run_demo(demo_crm)
    api = demo_crm.plugin("analytical")
    now = demo_crm.clock.now()
    clv_line = next(line for line in lines if line.startswith("CLV"))
    assert api.last_clv_run() == now
    predictions = api.clv_predictions(now)
    total = sum(p.clv for p in predictions)
    assert f"{len(predictions)} customers, 12-month CLV {total:,.2f} in total" in clv_line
    sizes = dict(re.findall(r"([\w-]+) (\d+)", next(l for l in lines if l.startswith("saved"))
                            .removeprefix("saved segments: ")))
    assert set(sizes) == set(api.segment_names()) == {"champions", "valuable-at-risk",
                                                      "newsletter-new"}
    for name, size in sizes.items():
        assert int(size) == len(api.segment_members(name, now))
    assert int(sizes["champions"]) == api.rfm_segments(now)["champions"] > 0
    stages = api.lifecycle_counts(now)
    assert f"lifecycle: prospect {stages['prospect']}, new {stages['new']}" in lines[2]
    assert len(demo_crm.events.list(type="lifecycle.changed", limit=None)) == sum(stages.values())
    assert [k.name for k in api.kpis(now)] == ["revenue this year", "NPS this year",
                                             "churn this quarter", "new customers this year"]
    assert not any(line.startswith("charts") for line in lines)  # never in the stored report
    assert refresh_demo(demo_crm) == [
        "charts: not drawn (matplotlib is missing: pip install 'crmkit[plots]')"]


def test_demo_writes_the_charts(demo_crm):
    pytest.importorskip("matplotlib")
    run_demo(demo_crm)
    [line] = refresh_demo(demo_crm)
    match = re.fullmatch(r"charts: (.+) in (.+)", line)
    assert match, line
    folder = Path(match.group(2))  # beside the SQLite file, or relative to the working directory
    for name in match.group(1).split(", "):
        assert (folder / name).read_bytes().startswith(b"\x89PNG")
    assert {"rfm-grid.png", "cohorts.png", "pareto.png"} <= set(match.group(1).split(", "))


def test_demo_without_repeat_purchases_says_why_there_is_no_clv(crm, clock, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    crm.plugins.enable("analytical")
    record(crm, [row(f"N{i}", "2024-12-01", amount=10) for i in range(5)])
    lines = run_demo(crm)
    assert lines[0] == ("CLV: not fitted: BG/NBD fit needs repeat purchases; none of the 5 "
                        "customers has bought on more than one day")
    assert crm.plugin("analytical").last_clv_run() is None


def test_the_chart_hint_clears_once_matplotlib_is_installed(run_cli, monkeypatch, tmp_path):
    """The stored report is shown again on a rerun; the charts line is redone every time."""
    monkeypatch.chdir(tmp_path)
    with monkeypatch.context() as without:
        without.setitem(sys.modules, "matplotlib", None)
        code, out, err = run_cli("demo", "--customers", "60")
    assert code == 0, err
    assert "analytical charts: not drawn (matplotlib is missing" in out
    code, again, err = run_cli("demo", "--customers", "60")
    assert code == 0 and "demo data already present" in again, err
    assert "matplotlib is missing" not in again
    match = re.search(r"^analytical charts: (.+) in (.+)$", again, re.M)
    assert match and "rfm-grid.png" in match.group(1), again
