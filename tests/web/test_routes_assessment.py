"""assessment's routes: the questionnaire, taking an assessment, reports and history; permissions.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
"""

from __future__ import annotations

import copy

import pytest

from crmkit.devtools.testing import api_client
from web_support import problem

API = "/api/v1/assessment"
NOW = "2025-01-01T12:00:00+00:00"

ANSWERS = {
    "indicators": {"information_asset": 4, "clv_assessed": 3, "expectations_met": 2,
                   "strategy_matched_to_value": 5, "integration": 3, "experience_managed": 1},
    "capabilities": {"strategic_information_use": 2, "every_contact": 2,
                     "information_in_operations": 3, "channel_management": 4,
                     "technology_for_opportunities": 1, "enterprise_wide": 3},
    "questions": {"sales_see_history": True, "profit_per_customer": False,
                  "information_for_sales_marketing": True, "campaigns_in_forecasts": False,
                  "loyal_rewarded": False, "campaign_return_measured": False,
                  "information_shared": True, "preferred_channel_known": True,
                  "customer_centred_culture": False, "segmented_several_ways": True,
                  "management_backing": False},
}
# indicators (18 - 6) / 24 = 50 %, capabilities (15 - 6) / 24 = 37.5 %, questions 5 of 11:
# overall (50 + 37.5 + 45.45) / 3 = 44.3, band average


@pytest.fixture
def assessing(crm):
    crm.plugins.enable("assessment")
    return crm


@pytest.fixture
def manager(assessing):
    with api_client(assessing, role="manager") as client:
        yield client


def test_questionnaire(manager):
    items = manager.get(f"{API}/questionnaire").json()
    assert [sum(1 for i in items if i["part"] == part)
            for part in ("indicators", "capabilities", "questions")] == [6, 6, 11]
    assert {k: items[-1][k] for k in ("part", "key", "gap_class", "module")} == {
        "part": "questions", "key": "management_backing", "gap_class": "strategy",
        "module": None}
    assert [i["key"] for i in items[:6]] == list(ANSWERS["indicators"])


def test_taking_an_assessment_and_reading_it_back(manager):
    problem(manager.get(f"{API}/report"), 404)  # none yet
    taken = manager.post(f"{API}/assessments", json={**ANSWERS, "note": "first"})
    assert taken.status_code == 201, taken.text
    report = taken.json()
    assert report["scores"] == {
        "indicators": {"mean": 3.0, "percent": 50.0},
        "capabilities": {"mean": 2.5, "percent": 37.5},
        "questions": {"yes": 5, "of": 11, "percent": 45.5},
        "overall": 44.3, "band": "average"}
    assert (report["taken_at"], report["note"], report["change"]) == (NOW, "first", None)
    assert len(report["gaps"]) == 11
    assert manager.get(f"{API}/report").json() == report
    assert manager.get(f"{API}/assessments/{report['id']}").json() == report
    better = copy.deepcopy(ANSWERS)
    better["questions"]["management_backing"] = True
    again = manager.post(f"{API}/assessments", json=better,
                         params={"as_of": "2025-01-01T12:00:01Z"}).json()
    assert again["change"]["questions"] == 9.0  # 6 of 11 = 54.5 %, up from 45.5 %
    assert [(h["id"], h["overall"], h["actor"]) for h in manager.get(f"{API}/assessments").json()
            ] == [(report["id"], 44.3, "manager"), (again["id"], again["scores"]["overall"],
                                                   "manager")]
    problem(manager.get(f"{API}/assessments/999"), 404)


def test_bad_answers_are_refused_by_pointer_and_nothing_is_stored(manager, assessing):
    answers = copy.deepcopy(ANSWERS)
    answers["indicators"]["integration"] = 6
    bad = problem(manager.post(f"{API}/assessments", json=answers), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/indicators/integration"]
    answers = copy.deepcopy(ANSWERS)
    del answers["questions"]["management_backing"]
    bad = problem(manager.post(f"{API}/assessments", json=answers), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/questions"]
    assert assessing.plugin("assessment").history() == []


def test_a_viewer_reads_but_may_not_assess(assessing):
    with api_client(assessing, role="viewer") as viewer:
        assert viewer.get(f"{API}/assessments").json() == []
        refused = problem(viewer.post(f"{API}/assessments", json=ANSWERS), 403)
    assert "assessment.write" in refused["detail"]
    assert assessing.plugin("assessment").history() == []
