"""Changing a configuration default changes the behaviour (kinds, VOC tags, ladder, CLV, sweep)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pathlib import Path

import numpy as np

from analytical_simulate import history_from_summary, purchase_history
from sqlalchemy import func, select

from analytical_support import days_ago, record, row
from crmkit.errors import ConfigError
from crmkit_analytical.errors import ModelFitError
from crmkit_analytical.tables import lifecycle

KINDS = [row("A", days_ago(10), amount=100), row("A", days_ago(5), "order", amount=50),
         row("A", days_ago(4), "refund", amount=30)]


def test_purchase_and_refund_kinds(crm):
    crm.plugins.enable("analytical")
    record(crm, KINDS)
    api = crm.plugin("analytical")
    [a] = api.rfm()
    assert (a.frequency, a.monetary, a.recency_days) == (1, Decimal("70"), 10)  # 100 − 30
    crm.plugins.configure("analytical", {"purchase_kinds": ["purchase", "order"], "refund_kinds": []})
    [a] = api.rfm()
    assert (a.frequency, a.monetary, a.recency_days) == (2, Decimal("150"), 5)


def test_a_kind_cannot_be_purchase_and_refund(crm):
    with pytest.raises(ConfigError, match=r"/refund_kinds: order also in /purchase_kinds"):
        crm.plugins.enable("analytical", {"purchase_kinds": ["purchase", "order"],
                                          "refund_kinds": ["order"]})


def test_voc_tags_and_survey_kinds(crm):
    crm.plugins.enable("analytical")
    record(crm, [row("A", days_ago(3), "survey", comment="Parcel arrived LATE"),
                 row("B", days_ago(3), "feedback", comment="rude staff"),
                 row("C", days_ago(3), "complaint", text="wrong size")])
    api = crm.plugin("analytical")
    assert [(v.tag, v.count) for v in api.voc()] == [("delivery", 1)]
    crm.plugins.configure("analytical", {"survey_kinds": ["survey", "feedback"],
                                         "voc_tags": {"fit": ["size"], "manners": ["rude"]}})
    assert [(v.month, v.tag, v.count) for v in api.voc()] == [("2024-12", "fit", 1),
                                                             ("2024-12", "manners", 1)]


def test_ladder_rules(crm):
    crm.plugins.enable("analytical")
    record(crm, [row("A", days_ago(9), amount=5), row("A", days_ago(8), amount=5),
                 row("B", days_ago(7), amount=5), row("B", days_ago(2), "survey", nps=9),
                 row("C", days_ago(3), "visit")])
    api = crm.plugin("analytical")
    rungs = {p.external_id: p.rung for p in api.ladder()}
    assert rungs == {"A": "customer", "B": "advocate", "C": "prospect"}
    crm.plugins.configure("analytical", {"ladder": [
        {"rung": "regular", "if": {"field": "purchases", "op": "ge", "value": 2}}]})
    rungs = {p.external_id: p.rung for p in api.ladder()}
    assert rungs == {"A": "regular", "B": "prospect", "C": "prospect"}
    assert api.ladder_counts() == {"prospect": 2, "regular": 1}


def test_clv_horizon_and_max_iterations(crm):
    crm.plugins.enable("analytical")
    rows, _, _ = purchase_history(customers=120)
    record(crm, rows)
    api = crm.plugin("analytical")
    year = {p.customer_id: p.expected_purchases for p in api.clv_predictions()}
    crm.plugins.configure("analytical", {"clv": {"horizon": 26}})
    half = {p.customer_id: p.expected_purchases for p in api.clv_predictions()}
    assert all(half[c] < year[c] for c in year) and half == {
        p.customer_id: p.expected_purchases for p in api.clv_predictions(horizon=26)}
    crm.plugins.configure("analytical", {"clv": {"max_iterations": 2}})
    with pytest.raises(ModelFitError, match=r"did not converge within 2 iterations"):
        api.clv_fit()


def test_clv_penalizer_coef_gives_a_fit_the_data_alone_do_not_identify(crm):
    """The demo's 80 customers: plain maximum likelihood is refused (a, b → ∞); with
    ``clv.penalizer_coef`` the penalised fit is made and predictions follow."""
    data = np.genfromtxt(Path(__file__).parent / "data" / "unidentified_demo80.csv",
                         delimiter=",", names=True)
    crm.plugins.enable("analytical")
    record(crm, history_from_summary(data["x"], data["t_x"], data["T"]))
    api = crm.plugin("analytical")
    got = [v for s in api.clv_summary() for v in (s.frequency, s.recency, s.T)]
    assert got == pytest.approx(np.column_stack([data["x"], data["t_x"], data["T"]]).ravel().tolist())
    with pytest.raises(ModelFitError, match=r"BG/NBD fit is not identified: the likelihood does "
                                            r"not fall as a → ∞ and b → ∞ .*80 customers, 70 with "
                                            r"repeat purchases: more customers, or a penalty"):
        api.clv_fit()
    with pytest.raises(ConfigError, match="penalizer_coef"):
        crm.plugins.configure("analytical", {"clv": {"penalizer_coef": -0.1}})
    crm.plugins.configure("analytical", {"clv": {"penalizer_coef": 0.01}})
    fit = api.clv_fit()
    assert 0 < fit.bgnbd["a"] < 100 and 0 < fit.bgnbd["b"] < 1000
    assert len(api.clv_predictions()) == 80


def test_update_on_sweep(crm):
    crm.plugins.enable("analytical")
    record(crm, [row("A", days_ago(9), amount=5)])
    def stored():
        with crm.read() as conn:
            return conn.execute(select(func.count()).select_from(lifecycle)).scalar()

    crm.plugins.configure("analytical", {"lifecycle": {"update_on_sweep": False},
                                         "rfm": {"store_on_sweep": False}})
    assert crm.sweep()["analytical"] == {}
    assert stored() == 0
    crm.plugins.configure("analytical", {"lifecycle": {"update_on_sweep": True},
                                         "rfm": {"store_on_sweep": False}})
    assert crm.sweep()["analytical"] == {"lifecycle_changes": 1}
    assert stored() == 1 and crm.events.list(type="lifecycle.changed")[0].payload["to"] == "new"
