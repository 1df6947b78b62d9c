"""idic — differentiate: MVC / MGC / BZ / maintain on a hand-built set, needs groups, runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from crmkit.errors import ConfigError

from crmkit_idic.differentiate import CustomerValue, classify, group_size

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)

# (id, current value, potential value, cost to serve) — worked by hand below.
TEN = [(1, 100, 900, 10), (2, 500, 800, 20), (3, 50, 700, 0), (4, 300, 300, 5),
       (5, 10, 600, 0), (6, 200, 250, 400), (7, 0, 0, 30), (8, 0, 0, 0),
       (9, 80, 950, 1000), (10, 400, 450, 420)]
# BZ (cost above current AND potential): 6 (400 > 200, 250), 7 (30 > 0, 0), 9 (1000 > 80, 950);
# 10 is not (420 < 450).  n = 10, so MVC = MGC = round(0.2 x 10) = 2.
# MVC by potential among the rest: 1 (900), 2 (800).
# MGC by potential - current among the rest: 3 (650), 5 (590); then 10 (50), 4 (0), 8 (0).
EXPECTED = {1: "MVC", 2: "MVC", 3: "MGC", 5: "MGC", 6: "BZ", 7: "BZ", 9: "BZ",
            4: "maintain", 8: "maintain", 10: "maintain"}


def values(rows=TEN):
    return [CustomerValue(i, D(c), D(p), D(k)) for i, c, p, k in rows]


def test_classify_ten_customers_by_hand():
    assert classify(values(), 0.2, 0.2) == EXPECTED


def test_shares_change_the_groups():
    # 0.3 x 10 = 3 MVC: 1, 2, 3; MGC next two by gap: 5 (590), 10 (50)
    assert classify(values(), 0.3, 0.2) == {**EXPECTED, 3: "MVC", 10: "MGC"}
    # no MGC at all
    assert {k for k, v in classify(values(), 0.2, 0.0).items() if v == "MGC"} == set()


def test_ties_are_broken_by_the_lower_customer_id():
    rows = [(7, 0, 500, 0), (3, 0, 500, 0), (5, 0, 100, 0), (9, 0, 100, 0), (1, 0, 0, 0)]
    # n = 5: one MVC (round(1.0)), one MGC; 3 beats 7 on potential, 5 beats 9 on gap
    assert classify(values(rows), 0.2, 0.2) == {3: "MVC", 7: "MGC", 5: "maintain",
                                               9: "maintain", 1: "maintain"}


@pytest.mark.parametrize("share, n, size", [(0.2, 10, 2), (0.25, 10, 3), (0.1, 3, 0),
                                            (0.5, 3, 2), (0.2, 0, 0)])
def test_group_size_rounds_half_up(share, n, size):
    assert group_size(share, n) == size


def build_ten(crm):
    """The TEN set as customers: values from attributes, costs from interactions + service_cost."""
    calls = {1: 2, 2: 1, 4: 1, 10: 4}                  # 5 each
    complaints = {2: 1, 7: 2}                           # 15 each
    extra = {6: 400, 9: 1000, 10: 400}                  # service_cost attribute
    crm.customers.add_many([
        {"external_id": f"C{i:02d}", "name": f"Customer {i}",
         "attributes": {"test_current": c, "test_clv": p,
                        **({"service_cost": extra[i]} if i in extra else {})}}
        for i, c, p, _ in TEN])
    rows = []
    for i, n in calls.items():
        rows += [{"customer": f"C{i:02d}", "occurred_at": NOW - dt.timedelta(days=10, hours=h),
                  "kind": "call"} for h in range(n)]
    for i, n in complaints.items():
        rows += [{"customer": f"C{i:02d}", "occurred_at": NOW - dt.timedelta(days=20, hours=h),
                  "kind": "complaint"} for h in range(n)]
    # outside the 365-day cost window: C08 would become BZ if it counted
    rows.append({"customer": "C08", "occurred_at": NOW - dt.timedelta(days=400), "kind": "complaint"})
    crm.interactions.record_many(rows)


def test_differentiation_through_the_analytical_api_matches_the_hand_computation(icrm):
    build_ten(icrm)
    result = icrm.plugin("idic").differentiate()
    assert result.counts == {"MVC": 2, "MGC": 2, "BZ": 3, "maintain": 3}
    got = {r["customer"]: r for r in icrm.plugin("idic").groups()}
    assert {k: r["value_group"] for k, r in got.items()} == {
        f"C{i:02d}": g for i, g in EXPECTED.items()}
    assert {k: r["cost_to_serve"] for k, r in got.items()} == {
        f"C{i:02d}": D(k) for i, _, _, k in TEN}
    assert got["C02"]["current_value"] == D("500") and got["C02"]["potential_value"] == D("800")


def test_cost_window_and_prices_are_configurable(icrm):
    build_ten(icrm)
    icrm.plugins.configure("idic", {"cost_window_days": 500})
    result = icrm.plugin("idic").differentiate(save=False)
    assert {r["customer"]: r["value_group"] for r in result.rows}["C08"] == "BZ"
    icrm.plugins.configure("idic", {"cost_per_kind": {"call": 5, "complaint": 0}})
    rows = {r["customer"]: r for r in icrm.plugin("idic").differentiate(save=False).rows}
    assert rows["C07"]["value_group"] == "maintain" and rows["C07"]["cost_to_serve"] == 0


def test_runs_are_kept_and_group_changes_are_events(icrm, clock):
    build_ten(icrm)
    api = icrm.plugin("idic")
    first = api.differentiate()
    assert first.changed == 10 and len(icrm.events.list(type="idic.group_changed", limit=None)) == 10
    icrm.customers.update("C04", attributes={"test_clv": 5000})
    clock.advance(days=1)
    second = api.differentiate()
    # MVC by potential: C04 (5000), C01 (900); C02 drops out, and its gap (300) is below
    # C03 (650) and C05 (590), which stay MGC: C02 becomes maintain
    assert api.group_of("C04") == "MVC" and api.group_of("C02") == "maintain"
    assert second.changed == 2
    changes = {(e.payload["from"], e.payload["to"]) for e in
               icrm.events.list(type="idic.group_changed", limit=None) if e.payload["run_id"] == second.run_id}
    assert changes == {("maintain", "MVC"), ("MVC", "maintain")}
    assert api.group_of("C04", as_of=clock.now() - dt.timedelta(hours=1)) == "maintain"


def test_needs_groups_first_match_wins(icrm):
    icrm.plugins.configure("idic", {"needs_groups": [
        {"name": "families", "condition": {"field": "attributes.children", "op": "ge", "value": 1}},
        {"name": "londoners", "condition": {"all": [
            {"field": "attributes.city", "op": "eq", "value": "London"},
            {"field": "tags", "op": "contains", "value": "newsletter"}]}},
    ]})
    icrm.customers.add_many([
        {"external_id": "F1", "attributes": {"children": 2, "city": "London"}, "tags": ["newsletter"]},
        {"external_id": "L1", "attributes": {"children": 0, "city": "London"}, "tags": ["newsletter"]},
        {"external_id": "L2", "attributes": {"city": "London"}},
        {"external_id": "X1", "attributes": {"city": "Leeds"}, "tags": ["newsletter"]},
    ])
    result = icrm.plugin("idic").differentiate()
    assert {r["customer"]: r["needs_group"] for r in result.rows} == {
        "F1": "families", "L1": "londoners", "L2": None, "X1": None}
    assert result.needs_counts == {"families": 1, "londoners": 1}
    assert [r["customer"] for r in icrm.plugin("idic").groups(group="londoners")] == ["L1"]


@pytest.mark.parametrize("config, message", [
    ({"needs_groups": [{"name": "x", "condition": {"field": "shoe_size", "op": "eq", "value": 1}}]},
     r"/needs_groups/0/condition/field: unknown field 'shoe_size'"),
    ({"needs_groups": [{"name": "MVC", "condition": {"field": "type", "op": "eq", "value": "person"}}]},
     r"/needs_groups/0/name: 'MVC' is a value group name"),
    ({"needs_groups": [{"name": "x", "condition": {"field": "tags", "op": "eq", "value": "a"}}]},
     r"/needs_groups/0/condition: field 'tags': tags support only the contains and exists"),
    ({"contact_plans": {"VIP": {"frequency_days": 7}}},
     r"/contact_plans/VIP: not a group \(allowed: MVC, MGC, BZ, maintain\)"),
    ({"mvc_share": 0.7, "mgc_share": 0.5}, r"/mgc_share: mvc_share \+ mgc_share must not exceed 1"),
])
def test_config_checks_name_the_pointer(icrm, config, message):
    with pytest.raises(ConfigError, match=message):
        icrm.plugins.configure("idic", config)
    assert icrm.plugins.config("idic")["needs_groups"] == []
