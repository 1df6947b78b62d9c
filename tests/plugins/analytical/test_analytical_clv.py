"""CLV through the database: the calibration summary by hand, fits and predictions, stored runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from analytical_simulate import purchase_history as simulated_history
from analytical_support import UTC, at, record, row
from crmkit_analytical import bgnbd, gammagamma
from crmkit_analytical.errors import ModelFitError


def summary_history(crm):
    record(crm, [
        row("A", "2024-10-01T10:00", amount=20), row("A", "2024-10-01T15:00", amount=30),
        row("A", "2024-10-15", amount=40), row("A", "2024-11-12", amount=60),
        row("A", "2024-11-20", "refund", amount=10),
        row("B", "2024-12-25", amount=100),
        row("C", "2024-12-01T10:00", amount=50), row("C", "2024-12-01T18:00", amount=25),
        row("D", "2024-12-02", "refund", amount=5), row("E", "2024-12-02", "visit"),
    ])


def test_calibration_summary_by_hand(crm):
    crm.plugins.enable("analytical")
    summary_history(crm)
    api = crm.plugin("analytical")
    got = {s.external_id: (s.frequency, s.recency, s.T, s.monetary) for s in api.clv_summary()}
    # A: purchase days Oct 1 (two purchases), Oct 15, Nov 12 → x = 2 repeat days;
    #    t_x = 42 days = 6 weeks; T = Oct 1 → Jan 1 = 92 days; monetary = (40 + 60 − 10) / 2
    # B: one purchase 7 days before as-of; C: two purchases on one day → no repeat
    # D (refund only) and E (visit) have no purchase: not in the summary
    assert got == {"A": (2, 6.0, pytest.approx(92 / 7), Decimal("45")),
                   "B": (0, 0.0, 1.0, Decimal("0")),
                   "C": (0, 0.0, pytest.approx(31 / 7), Decimal("0"))}
    days = {s.external_id: (s.recency, s.T) for s in api.clv_summary(time_unit="day")}
    assert days["A"] == (42.0, 92.0)
    months = {s.external_id: (s.recency, s.T) for s in api.clv_summary(time_unit="month")}
    assert months["A"] == (pytest.approx(42 / (365.25 / 12)), pytest.approx(92 / (365.25 / 12)))
    # at an earlier as-of only what happened by then counts
    early = {s.external_id: (s.frequency, s.T)
             for s in api.clv_summary(at("2024-10-20"))}
    assert early == {"A": (1, pytest.approx(19 / 7))}


def test_time_unit_default_changes_the_summary(crm):
    crm.plugins.enable("analytical", {"clv": {"time_unit": "day"}})
    summary_history(crm)
    got = {s.external_id: s.T for s in crm.plugin("analytical").clv_summary()}
    assert got == {"A": 92.0, "B": 7.0, "C": 31.0}


AS_OF = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)  # day 731 after 2023-01-01


def python_summary(days, amounts, unit=7.0):
    """The summary computed independently in Python from the generated histories."""
    out = {}
    for ext, mine in days.items():
        first, distinct = mine[0], sorted(set(mine))
        x = len(distinct) - 1
        repeat = sum((a for d, a in amounts[ext] if d > first), Decimal(0))
        out[ext] = (x, (distinct[-1] - first) / unit, (731 - first) / unit,
                    (repeat / x) if x else Decimal(0))
    return out


def test_fit_on_the_database_equals_the_fit_on_python_summaries(crm):
    crm.plugins.enable("analytical")
    rows, days, amounts = simulated_history()
    record(crm, rows)
    api = crm.plugin("analytical")
    expected = python_summary(days, amounts)
    got = {s.external_id: (s.frequency, s.recency, s.T, s.monetary) for s in api.clv_summary()}
    assert set(got) == set(expected)
    for ext, (x, t_x, T, m) in expected.items():
        assert got[ext][:3] == (x, pytest.approx(t_x), pytest.approx(T)), ext
        assert got[ext][3] == m.quantize(Decimal("0.0001")), ext
    arrays = np.array([expected[k][:3] for k in sorted(expected)], dtype=float)
    spend = np.array([float(expected[k][3]) for k in sorted(expected)])
    bg = bgnbd.fit(arrays[:, 0], arrays[:, 1], arrays[:, 2])
    gg = gammagamma.fit(arrays[:, 0], spend)
    fitted = api.clv_fit()  # equal up to the optimiser's stopping tolerance
    assert fitted.bgnbd["customers"] == 300
    for name in ("r", "alpha", "a", "b"):
        assert fitted.bgnbd[name] == pytest.approx(getattr(bg.params, name), rel=1e-4)
    for name in ("p", "q", "v"):
        assert fitted.gamma_gamma[name] == pytest.approx(getattr(gg.params, name), rel=1e-4)


def test_predictions_add_up_and_margin_scales_the_clv(crm):
    crm.plugins.enable("analytical", {"clv": {"discount_rate": 0}})
    rows, _, _ = simulated_history()
    record(crm, rows)
    api = crm.plugin("analytical")
    year = 12 * (365.25 / 12) / 7  # twelve model months in weeks
    predictions = api.clv_predictions(horizon=year)
    assert len(predictions) == 300
    for p in predictions:
        assert 0 < p.p_alive <= 1
        # without discounting, CLV = expected spend × expected purchases over the 12 months
        assert float(p.clv) == pytest.approx(float(p.expected_spend) * p.expected_purchases,
                                             rel=2e-3, abs=0.02)
    crm.plugins.configure("analytical", {"clv": {"discount_rate": 0, "margin": 0.5}})
    halved = {p.customer_id: p.clv for p in api.clv_predictions(horizon=year)}
    for p in predictions:
        assert abs(halved[p.customer_id] - p.clv / 2) <= Decimal("0.01")
    crm.plugins.configure("analytical", {"clv": {"discount_rate": 0.05}})
    discounted = {p.customer_id: p.clv for p in api.clv_predictions()}
    assert all(discounted[p.customer_id] < p.clv for p in predictions if p.clv > 1)


def test_clv_by_customer_stores_and_reuses_a_run(crm, clock):
    crm.plugins.enable("analytical")
    rows, days, _ = simulated_history()
    record(crm, rows)
    api = crm.plugin("analytical")
    assert api.last_clv_run() is None
    values = api.clv_by_customer()
    predicted = {p.external_id: p for p in api.clv_predictions()}
    ids = {ext: p.customer_id for ext, p in predicted.items()}
    assert set(values) == set(ids.values())
    # one definition of potential value: the prediction, one-time buyers included
    assert values == {ids[ext]: p.clv for ext, p in predicted.items()}
    one_time = [ext for ext, mine in days.items() if len(set(mine)) == 1]
    assert one_time and all(values[ids[ext]] > 0 for ext in one_time)
    assert api.last_clv_run() == clock.now()
    clock.advance(minutes=5)
    assert api.clv_by_customer(AS_OF) == values  # the same as-of and data: the stored run
    assert api.last_clv_run() == AS_OF
    record(crm, [row("S0000", "2025-01-01T11:00", amount=10)])
    api.clv_by_customer(AS_OF)  # new data: a new run
    assert api.last_clv_run() == clock.now()


def test_too_little_data_is_a_clear_model_fit_error(crm):
    crm.plugins.enable("analytical")
    api = crm.plugin("analytical")
    with pytest.raises(ModelFitError, match="needs customers with purchases up to"):
        api.clv_by_customer()
    record(crm, [row("A", "2024-12-01", amount=10), row("B", "2024-12-02", amount=10)])
    with pytest.raises(ModelFitError, match="needs repeat purchases; none of the 2 customers"):
        api.clv_by_customer()
    assert api.last_clv_run() is None


def test_customer_values_pair_current_and_potential(crm):
    crm.plugins.enable("analytical", {"current_value_months": 1})
    rows, _, amounts = simulated_history()
    record(crm, rows)
    api = crm.plugin("analytical")
    values = {v.external_id: v for v in api.customer_values()}
    potential = api.clv_by_customer()
    for ext, spent in amounts.items():
        # window (2024-12-01 12:00, as-of]; purchases are at 09:00, so from day 701 (Dec 2)
        recent = sum((a for d, a in spent if d > 700), Decimal(0))
        assert values[ext].current_value == recent, ext
        assert values[ext].potential_value == potential[values[ext].customer_id]


def test_predict_reuses_the_fit_kept_at_the_same_as_of_on_the_same_data(crm):
    crm.plugins.enable("analytical")
    rows, _, _ = simulated_history()
    record(crm, rows)
    api = crm.plugin("analytical")
    fresh_fit, fresh = api.clv_predict(AS_OF)  # nothing kept: fitted here
    kept = api.clv_fit(AS_OF, keep=True)
    reused_fit, reused = api.clv_predict(AS_OF)
    # the reference path and the reuse path give the same parameters and predictions
    assert reused_fit.bgnbd == kept.bgnbd == fresh_fit.bgnbd
    assert reused_fit.gamma_gamma == fresh_fit.gamma_gamma
    for name in ("p_alive", "expected_purchases"):
        np.testing.assert_allclose(getattr(reused, name), getattr(fresh, name), rtol=1e-12)
    for name in ("spend_cents", "clv_cents", "customer_id", "monetary_units", "x", "t_x", "T"):
        assert getattr(reused, name).tolist() == getattr(fresh, name).tolist()
    assert reused.external_id == fresh.external_id
    # the kept parameters are what predict uses: a kept fit with a changed a shows through
    from crmkit_analytical.tables import clv_fits
    from sqlalchemy import update

    with crm.transaction() as tx:
        tx.conn.execute(update(clv_fits).values(bgnbd={**kept.bgnbd, "a": kept.bgnbd["a"] * 2}))
    assert api.clv_predict(AS_OF)[0].bgnbd["a"] == kept.bgnbd["a"] * 2
    # another as-of, another time unit, other fit settings or new data: fitted again
    assert api.clv_predict(AS_OF - dt.timedelta(days=1))[0].bgnbd["a"] != kept.bgnbd["a"] * 2
    assert api.clv_predict(AS_OF, time_unit="day")[0].time_unit == "day"
    crm.plugins.configure("analytical", {"clv": {"max_iterations": 500}})
    assert api.clv_predict(AS_OF)[0].bgnbd == kept.bgnbd
    crm.plugins.configure("analytical", {"clv": {"max_iterations": 1000}})
    assert api.clv_predict(AS_OF)[0].bgnbd["a"] == kept.bgnbd["a"] * 2
    record(crm, [row("S0000", "2024-12-31T11:00", amount=10)])
    refitted = api.clv_predict(AS_OF)[0]
    assert refitted.bgnbd["a"] != kept.bgnbd["a"] * 2
    assert refitted.bgnbd["customers"] == kept.bgnbd["customers"]


def test_predict_does_not_reuse_a_kept_fit_once_customers_were_merged(crm):
    crm.plugins.enable("analytical")
    rows, _, _ = simulated_history()
    record(crm, rows)
    api = crm.plugin("analytical")
    kept = api.clv_fit(AS_OF, keep=True)
    customers = kept.bgnbd["customers"]
    [first, second] = [s.external_id for s in api.clv_summary(AS_OF)[:2]]
    crm.customers.merge(first, second)  # moves interactions: no new interaction id
    refitted, predictions = api.clv_predict(AS_OF)
    assert refitted.bgnbd["customers"] == customers - 1 == len(predictions)
    assert second not in predictions.external_id
