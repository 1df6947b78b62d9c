"""idic — customise: deterministic holdouts, treatment members, uplift."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConflictError, ValidationError

from crmkit_idic.customise import holdout_value, in_holdout

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)
START = NOW - dt.timedelta(days=60)


def test_holdout_is_stable_and_close_to_the_share_on_10000_customers():
    keys = [f"C{i:05d}" for i in range(10_000)]
    first = [in_holdout(k, "spring-offer", 0.1) for k in keys]
    again = [in_holdout(k, "spring-offer", 0.1) for k in keys]
    assert first == again
    share = sum(first) / len(keys)
    assert abs(share - 0.1) < 0.01                         # 3 standard deviations: 0.009
    other = [in_holdout(k, "autumn-offer", 0.1) for k in keys]
    assert other != first                                  # each treatment splits afresh
    assert abs(sum(in_holdout(k, "x", 0.3) for k in keys) / 10_000 - 0.3) < 0.015
    assert not any(in_holdout(k, "x", 0.0) for k in keys)
    assert 0 <= min(holdout_value(k, "x") for k in keys) < max(holdout_value(k, "x") for k in keys) < 1


@pytest.fixture
def mvc_crm(icrm, clock):
    """Twenty MVC-worthy customers among forty, created before START, differentiated at START."""
    icrm.plugins.configure("idic", {"mvc_share": 0.5, "mgc_share": 0.0})
    clock.set(START - dt.timedelta(days=30))
    icrm.customers.add_many([{"external_id": f"K{i:02d}",
                              "attributes": {"test_clv": 1000 - i if i < 20 else 0}}
                             for i in range(40)])
    icrm.plugin("idic").differentiate(START)
    clock.set(NOW)
    return icrm


def test_members_are_split_by_the_hash_and_kept_across_runs(mvc_crm, clock):
    api = mvc_crm.plugin("idic")
    t = api.add_treatment("priority", "MVC", "service_level", "next-day callback",
                          holdout_share=0.25, start=START)
    expected_holdout = {f"K{i:02d}" for i in range(20) if in_holdout(f"K{i:02d}", "priority", 0.25)}
    assert (t.treated, t.held_out) == (20 - len(expected_holdout), len(expected_holdout))
    api.differentiate(NOW)                                 # same MVCs: nobody is added twice
    assert (api.treatments()[0].treated, api.treatments()[0].held_out) == (t.treated, t.held_out)
    mvc_crm.customers.add("K99", attributes={"test_clv": 5000})
    clock.advance(days=1)
    api.differentiate(clock.now())
    assert api.treatments()[0].treated + api.treatments()[0].held_out == 21


def test_holdout_share_default_comes_from_config(mvc_crm):
    mvc_crm.plugins.configure("idic", {"mvc_share": 0.5, "mgc_share": 0.0, "holdout_share": 0.5})
    t = mvc_crm.plugin("idic").add_treatment("half", "MVC", "offer", "two for one", start=START)
    assert t.holdout_share == 0.5
    assert t.held_out == sum(in_holdout(f"K{i:02d}", "half", 0.5) for i in range(20))
    assert t.held_out != sum(in_holdout(f"K{i:02d}", "half", 0.1) for i in range(20))


@pytest.mark.parametrize(("share", "k"), [(0.3, 5), (0.6, 9)])
def test_uplift_by_hand(mvc_crm, share, k):
    api = mvc_crm.plugin("idic")
    api.add_treatment("coupon", "MVC", "offer", "10% coupon", holdout_share=share, start=START)
    members = [f"K{i:02d}" for i in range(20)]
    held = [m for m in members if in_holdout(m, "coupon", share)]
    treated = [m for m in members if m not in held]
    assert len(held) == k
    # every treated member spends 30 after the start, one holdout member spends 50 and refunds 10,
    # purchases before the start and by non-members do not count
    rows = [{"customer": k, "occurred_at": START + dt.timedelta(days=3), "amount": "30"}
            for k in treated]
    rows += [{"customer": held[0], "occurred_at": START + dt.timedelta(days=4), "amount": "50"},
             {"customer": held[0], "occurred_at": START + dt.timedelta(days=5), "kind": "refund",
              "amount": "10"},
             {"customer": held[-1], "occurred_at": START - dt.timedelta(days=1), "amount": "500"},
             {"customer": "K30", "occurred_at": START + dt.timedelta(days=3), "amount": "900"}]
    mvc_crm.interactions.record_many(rows)
    revenue = api.uplift("coupon", "revenue")
    assert (revenue.treated, revenue.held_out) == (20 - k, k)
    # holdout mean 40 / k, uplift 30 - 40 / k, relative (30 - 40 / k) / (40 / k) = 75 k - 100 %;
    # k = 9: 4.4444, 25.5556 and 575.00 (the rounded means would give 575.01)
    assert revenue.treated_value == D(30)
    assert revenue.holdout_value == {5: D("8.0000"), 9: D("4.4444")}[k]
    assert revenue.uplift == {5: D("22.0000"), 9: D("25.5556")}[k]
    assert revenue.relative_uplift == {5: D("275.00"), 9: D("575.00")}[k]
    # treated: all 30, variance 0; holdout of k: one 40, the rest 0 -> variance 1600 / k,
    # standard error sqrt(1600 / k / k) = 40 / k
    assert float(revenue.standard_error) == pytest.approx(40 / k, abs=1e-4)
    assert revenue.significant is (30 - 40 / k > 1.96 * 40 / k)
    # one purchase per treated member, one in the holdout: 1 - 1 / k, relative 100 (k - 1) %
    for metric in ("purchases", "purchase_rate"):
        counted = api.uplift("coupon", metric)
        assert counted.treated_value == 1
        assert counted.holdout_value == {5: D("0.2000"), 9: D("0.1111")}[k]
        assert counted.uplift == {5: D("0.8000"), 9: D("0.8889")}[k]
        assert counted.relative_uplift == {5: D("400.00"), 9: D("800.00")}[k]
    # ending the treatment before the purchases leaves nothing to compare
    api.end_treatment("coupon", START + dt.timedelta(days=1))
    ended = api.uplift("coupon", "purchases")
    assert ended.treated_value == 0 and ended.holdout_value == 0 and ended.uplift == 0


def test_bad_treatments_are_refused_and_change_nothing(mvc_crm):
    api = mvc_crm.plugin("idic")
    with pytest.raises(ValidationError, match=r"group: 'VIPs' is not a group \(allowed: MVC, MGC, BZ, maintain\)"):
        api.add_treatment("x", "VIPs", "offer", "free tea")
    with pytest.raises(ValidationError, match="type: 'gift' is not one of offer, service_level, channel"):
        api.add_treatment("x", "MVC", "gift", "free tea")
    with pytest.raises(ValidationError, match="holdout_share: 0.95 is outside 0 to 0.9"):
        api.add_treatment("x", "MVC", "offer", "free tea", holdout_share=0.95)
    assert api.treatments() == []
    api.add_treatment("x", "MVC", "offer", "free tea")
    with pytest.raises(ConflictError, match="treatment 'x' already exists"):
        api.add_treatment("x", "BZ", "offer", "free tea")
    with pytest.raises(ValidationError, match="metric: 'joy' is not one of revenue, purchases, purchase_rate"):
        api.uplift("x", "joy")


def test_purchase_and_refund_kinds_are_configurable(mvc_crm):
    api = mvc_crm.plugin("idic")
    api.add_treatment("all-in", "MVC", "offer", "gift", holdout_share=0.0, start=START)
    mvc_crm.interactions.record_many([
        {"customer": "K00", "occurred_at": START + dt.timedelta(days=1), "amount": "100"},
        {"customer": "K00", "occurred_at": START + dt.timedelta(days=2), "kind": "adjustment",
         "amount": "40"}])
    # 20 treated members: 100 / 20 = 5 per member; the adjustment is neither kind
    assert api.uplift("all-in").treated_value == D(5)
    mvc_crm.plugins.configure("idic", {"mvc_share": 0.5, "mgc_share": 0.0,
                                       "refund_kinds": ["refund", "adjustment"]})
    assert api.uplift("all-in").treated_value == D(3)     # (100 - 40) / 20


@pytest.mark.parametrize("field", ["name", "detail"])
def test_treatment_texts_keep_the_core_max_field_length(mvc_crm, field):
    api = mvc_crm.plugin("idic")
    given = {"name": "x", "group": "MVC", "type": "offer", "detail": "free tea"}
    assert_keeps_max_field_length(mvc_crm, f"treatment {field}",
                                  lambda text: api.add_treatment(**dict(given, **{field: text})),
                                  api.treatments)
