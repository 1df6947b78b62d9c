"""Relationship quality and customer-perceived value from survey items and behaviour,
on hand-built data (issue 24 section 3)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crmkit.errors import ConfigError, ValidationError
from crmkit.tables import customers, interactions

from analytical_support import days_ago, record, row

ITEMS = {"rq_trust": {"min": 1, "max": 7}, "rq_commit": {"min": 1, "max": 7},
         "pv_quality": {"min": 1, "max": 5}, "pv_price": {"min": 1, "max": 5}}
CONFIG = {"survey_items": ITEMS,
          "relationship_quality": {"trust": ["rq_trust"], "commitment": ["rq_commit"]},
          "perceived_value": {"benefit": ["pv_quality"], "cost": ["pv_price"]}}


def test_relationship_quality_by_hand(crm):
    crm.plugins.enable("analytical", CONFIG)
    record(crm, [
        # A: buys in both halves of the year; the latest survey replaces the older one
        row("A", days_ago(300), amount=10), row("A", days_ago(10), amount=10),
        row("A", days_ago(200), "survey", rq_trust=1),
        row("A", days_ago(5), "survey", rq_trust=7, csat=5, rq_commit=4),
        # B: one purchase and a complaint, in the recent half; no survey
        row("B", days_ago(20), amount=10), row("B", days_ago(20, hour=11), "complaint",
                                               text="late"),
        # C: only a survey older than the 365-day window: not scored
        row("C", days_ago(400), "survey", rq_trust=7),
    ])
    got = {r.external_id: (r.trust, r.satisfaction, r.commitment, r.index, r.surveyed)
           for r in crm.plugin("analytical").relationship_quality()}
    # A surveys: trust (7-1)/6 = 100, satisfaction csat (5-1)/4 = 100, commitment (4-1)/6 = 50;
    #   behaviour: interactions in both halves 100, no complaint 100, purchases on 2 days 100;
    #   commitment 0.7 x 50 + 0.3 x 100 = 65; index (100 + 100 + 65) / 3 = 88.33
    # B behaviour only: one half 50, a complaint 0, one purchase day 50: index 33.33
    assert got == {"A": (100.0, 100.0, 65.0, 88.33, ("trust", "satisfaction", "commitment")),
                   "B": (50.0, 0.0, 50.0, 33.33, ())}


def test_perceived_value_per_segment_by_hand(crm):
    crm.plugins.enable("analytical", CONFIG)
    record(crm, [row("R1", days_ago(3), "survey", pv_quality=5, pv_price=3),
                 row("R2", days_ago(3), "survey", pv_quality=3, pv_price=5),
                 row("R3", days_ago(3), "survey", pv_quality=4),
                 row("N1", days_ago(3), "call")])
    api = crm.plugin("analytical")
    api.save_segment("r1-r3", {"field": "external_id", "op": "in", "value": ["R1", "R3"]})
    api.save_segment("nobody", {"field": "external_id", "op": "eq", "value": "N1"})
    got = [(r.group, r.respondents, r.benefit, r.cost, r.net) for r in api.perceived_value()]
    # benefit: R1 (5-1)/4 = 100, R2 50, R3 75; cost: R1 50, R2 100 (R3 gave none)
    assert got == [("all", 3, 75.0, 75.0, 0.0),          # (100+50+75)/3, (50+100)/2
                   ("nobody", 0, None, None, None),       # N1 answered no survey
                   ("r1-r3", 2, 87.5, 50.0, 37.5)]


def test_survey_items_are_checked_on_the_way_in_and_in_the_config(crm):
    crm.plugins.enable("analytical", CONFIG)
    with pytest.raises(ValidationError, match=r"payload\.rq_trust.*9 is not a whole number "
                                              r"from 1 to 7"):
        record(crm, [row("A", days_ago(1), "survey", rq_trust=9)])
    with crm.read() as conn:  # nothing written: neither the interaction nor its customer
        assert conn.execute(select(func.count()).select_from(interactions)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(customers)).scalar() == 0
    with pytest.raises(ConfigError, match=r"/relationship_quality/trust/0: 'rq_trust' is not a "
                                          r"survey item"):
        crm.plugins.configure("analytical", {"relationship_quality": {"trust": ["rq_trust"]}})
    with pytest.raises(ConfigError, match=r"/survey_items/nps: nps is built in"):
        crm.plugins.configure("analytical", {"survey_items": {"nps": {"min": 1, "max": 5}}})
    with pytest.raises(ConfigError, match=r"/survey_items/x/max: 1 must be above min 1"):
        crm.plugins.configure("analytical", {"survey_items": {"x": {"min": 1, "max": 1}}})


def test_perceived_value_needs_its_items(crm, run_cli):
    crm.plugins.enable("analytical")
    code, _, err = run_cli("analytical", "perceived-value")
    assert code != 0 and "/perceived_value: name the survey items of both benefit and cost" in err


def test_cli_relationship_quality(crm, run_cli):
    crm.plugins.enable("analytical", CONFIG)
    record(crm, [row("B", days_ago(20), amount=10)])
    code, out, _ = run_cli("analytical", "relationship", "--as-of", "2025-01-01T12:00",
                           "--customers", "--format", "csv")
    assert code == 0 and out.splitlines()[1:] == ["B,50.0,100.0,50.0,66.67,"]
    code, out, _ = run_cli("analytical", "relationship", "--as-of", "2025-01-01T12:00",
                           "--format", "json")
    assert code == 0 and '"index": 66.67' in out


def test_relationship_quality_and_perceived_value_are_smart_kpis(crm):
    kpis = [{"name": "rq", "metric": "relationship_quality", "target": 50,
             "deadline": "2025-06-30"},
            {"name": "pv", "metric": "perceived_value", "target": 10, "deadline": "2025-06-30"}]
    crm.plugins.enable("analytical", dict(CONFIG, kpis=kpis))
    record(crm, [row("B", days_ago(20), amount=10),                       # index 66.67
                 row("R1", days_ago(3), "survey", pv_quality=5, pv_price=3)])
    got = {k.name: (k.value, k.status, k.note) for k in crm.plugin("analytical").kpis()}
    # R1 behaviour only (answered no relationship item): an interaction in the recent half
    # (50), no complaint (100), no purchase (0): 50.00; B: 66.67; the mean of the shown
    # indices (66.67 + 50.00) / 2 = 58.335 -> 58.34
    assert got["rq"] == (58.34, "on_track", None)
    assert got["pv"] == (50.0, "on_track", None)  # R1: benefit 100 - cost 50
    crm.plugins.configure("analytical", dict(CONFIG, kpis=kpis, perceived_value={}))
    [_, pv] = crm.plugin("analytical").kpis()
    assert (pv.value, pv.status) == (None, "no_data")
    assert pv.note.startswith("/perceived_value: name the survey items of both benefit and cost")


def test_dashboard_panels_of_relationship_quality_and_perceived_value(crm):
    from crmkit_analytical import dashboard

    crm.plugins.enable("analytical")
    api = crm.plugin("analytical")
    unset = dashboard.perceived_value(api, days_ago(0))
    assert (unset.rows, unset.chart) == ((), "table")
    assert unset.note.startswith("/perceived_value: name the survey items")
    crm.plugins.configure("analytical", CONFIG)
    record(crm, [row("B", days_ago(20), amount=10),
                 row("R1", days_ago(3), "survey", pv_quality=5, pv_price=3)])
    quality = dashboard.relationship_quality(api, days_ago(0))
    # B 50/100/50 (66.67), R1 50/100/0 (50.00), as in the KPI test
    assert quality.rows == (("trust", 50.0), ("satisfaction", 100.0), ("commitment", 25.0),
                            ("index", 58.34))
    value = dashboard.perceived_value(api, days_ago(0))
    assert value.rows == (("all", 1, 100.0, 50.0, 50.0),)


def test_the_summary_mean_rounds_half_up_exactly():
    from crmkit_analytical.relationship import summary
    from crmkit_analytical.results import RelationshipQuality

    rows = [RelationshipQuality(str(i), 100.0, 100.0, 100.0, index, ())
            for i, index in enumerate([96.11, 70.83, 29.72, 83.33, 88.33, 83.33])]
    # 451.65 / 6 = 75.275 → 75.28 (float rounding gave 75.27: 75.275 is 75.27499… in binary)
    assert summary(rows) == {"customers": 6, "trust": 100.0, "satisfaction": 100.0,
                             "commitment": 100.0, "index": 75.28}
