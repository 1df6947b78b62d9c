"""Hand-computed known answers: NPS, CSAT, CES, min_sample, CRR, the CLV formula."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytical_support import days_ago, record, row, surveys
from crmkit.errors import ValidationError
from crmkit_analytical.clv_formula import formula_clv
from crmkit_analytical.retention import churn, crr


def test_nps_known_answer_and_min_sample_flag(crm):
    crm.plugins.enable("analytical")
    surveys(crm, "nps", [10, 9, 9, 8, 7, 6, 5, 10, 3, 9])
    nps = crm.plugin("analytical").nps()
    # promoters 10,9,9,10,9 = 5; detractors 6,5,3 = 3; (5 − 3) / 10 = +20 %
    assert nps.value == 20.0
    assert nps.responses == 10
    assert nps.details == {"promoters": 5, "passives": 2, "detractors": 3}
    assert nps.insufficient is True  # 10 < min_sample 30, still shown


def test_min_sample_default_changes_the_flag(crm):
    crm.plugins.enable("analytical", {"satisfaction": {"min_sample": 10}})
    surveys(crm, "nps", [10, 9, 9, 8, 7, 6, 5, 10, 3, 9])
    api = crm.plugin("analytical")
    assert api.nps().insufficient is False
    assert api.csat().value is None and api.csat().responses == 0 and api.csat().insufficient


def test_csat_and_ces(crm):
    crm.plugins.enable("analytical", {"satisfaction": {"min_sample": 8}})
    surveys(crm, "csat", [5, 4, 3, 2, 1, 4, 5, 5])
    record(crm, [row(f"E{i}", days_ago(2), "survey", ces=v) for i, v in enumerate([1, 2, 3, 7])])
    api = crm.plugin("analytical")
    csat = api.csat()
    assert (csat.value, csat.responses, csat.details) == (62.5, 8, {"satisfied": 5})  # 5 of 8
    assert csat.insufficient is False  # 8 >= min_sample 8
    ces = api.ces()
    assert (ces.value, ces.responses, ces.insufficient) == (3.25, 4, True)  # (1+2+3+7)/4


def test_satisfaction_window_default_changes_what_counts(crm):
    crm.plugins.enable("analytical")
    surveys(crm, "nps", [0], when=days_ago(400))
    surveys(crm, "nps", [10, 10], when=days_ago(10))  # customers S0, S1 again: new interactions
    api = crm.plugin("analytical")
    assert (api.nps().value, api.nps().responses) == (100.0, 2)  # default window 365 days
    crm.plugins.configure("analytical", {"satisfaction": {"window_days": 500}})
    # 2 promoters, 1 detractor of 3: (2 − 1) / 3 = 33.3
    assert (api.nps().value, api.nps().responses) == (33.3, 3)
    assert api.nps(days=5).responses == 0


def test_survey_scores_outside_the_scale_reject_the_batch(crm):
    from crmkit.errors import ValidationError as VE

    crm.plugins.enable("analytical")
    with pytest.raises(VE, match=r"payload\.nps.*0 to 10"):
        record(crm, [row("A", days_ago(1), "survey", nps=9), row("B", days_ago(1), "survey", nps=11)])
    assert crm.interactions.list() == []
    record(crm, [row("A", days_ago(1), "survey", nps="9")])  # text from a CSV import is stored as 9
    assert crm.interactions.list()[0].payload["nps"] == 9


def test_crr_known_answer():
    assert crr(100, 90, 20) == 70.0
    assert churn(crr(100, 90, 20)) == 30.0
    assert crr(0, 5, 5) is None


def test_retention_on_a_hand_built_history(crm):
    crm.plugins.enable("analytical")
    record(crm, [
        row("A", "2024-11-15", amount=10),                                # counts at start and end
        row("B", "2024-06-10", amount=10),                                # lapses during December
        row("C", "2024-12-10", amount=10),                                # new
        row("D", "2024-05-01", amount=10), row("D", "2024-12-20", amount=10),  # won back
        row("E", "2024-08-01", amount=10),                                # counts at start and end
        row("F", "2024-12-05", "visit"),                                  # not a purchase
    ])
    december = crm.plugin("analytical").retention(period="month", periods=1)
    [p] = december
    # start 2024-12-01 (window from 2024-06-04): A, B, E; end 2025-01-01 (from 2024-07-05):
    # A, C, D, E; new at the end: C, D.  CRR = (4 − 2) / 3 = 66.7
    assert (p.period, p.start_customers, p.end_customers, p.new_customers) == ("2024-12", 3, 4, 2)
    assert (p.crr, p.churn, p.acquired) == (66.7, 33.3, 1)  # acquired: C (D first bought in May)


def test_lapsed_days_default_changes_retention(crm):
    crm.plugins.enable("analytical", {"lifecycle": {"lapsed_days": 220}})
    record(crm, [row("A", "2024-11-15", amount=10), row("B", "2024-06-10", amount=10),
                 row("C", "2024-12-10", amount=10), row("D", "2024-05-01", amount=10),
                 row("D", "2024-12-20", amount=10), row("E", "2024-08-01", amount=10)])
    [p] = crm.plugin("analytical").retention(period="month", periods=1)
    # windows from 2024-04-25 and 2024-05-26: S = A,B,D,E; E = all five; N = C → 100.0
    assert (p.start_customers, p.end_customers, p.new_customers, p.crr) == (4, 5, 1, 100.0)


def test_clv_formula_known_answers():
    assert formula_clv(100, "0.8", "0.1", 1) == Decimal("72.73")
    assert formula_clv(100, "0.8", "0.1", None) == Decimal("266.67")
    # T = 2: 72.7273 + 100 · (0.8/1.1)^2 = 72.7273 + 52.8926 = 125.62
    assert formula_clv(100, "0.8", "0.1", 2) == Decimal("125.62")
    with pytest.raises(ValidationError, match="retention: 1.5 must be between 0 and 1"):
        formula_clv(100, "1.5", "0.1")
    with pytest.raises(ValidationError, match="diverges"):
        formula_clv(100, "1", "0")


def test_clv_formula_over_a_billion_periods_is_the_closed_form():
    # the sum over 10^9 periods equals the infinite sum to the cent, computed at once
    assert formula_clv(100, "0.8", "0.1", 10**9) == Decimal("266.67")
    assert formula_clv(10, "1", "0", 5) == Decimal("50.00")  # r = 1 + d: m · T
    with pytest.raises(ValidationError, match=r"the CLV 1\.000E\+15 is out of range"):
        formula_clv(10, "1", "0", 10**14)
