"""RFM quintiles on a 10-customer table worked out by hand (ties get equal scores)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytical_support import days_ago, record, row

HISTORY = {  # customer: [(days ago, amount)]
    "C01": [(100, 10)],
    "C02": [(80, 20), (50, 30)],
    "C03": [(150, 30), (90, 30), (50, 40)],
    "C04": [(5, 500)],
    "C05": [(9, 50), (7, 50), (3, 50), (1, 50), (1.5, 50)],  # two purchases on one day
    "C06": [(60, 30), (20, 30)],
    "C07": [(40, 25), (30, 25), (20, 25), (10, 25)],
    "C08": [(300, 20)],
    "C09": [(400, 30), (300, 30), (200, 30)],
    "C10": [(90, 20), (30, 20)],
}


def load(crm) -> None:
    rows = []
    for customer, purchases in HISTORY.items():
        for days, amount in purchases:
            hour = 11 if days == 1.5 else 10
            rows.append(row(customer, days_ago(int(days), hour), amount=amount))
    rows.append(row("C10", days_ago(25), "refund", amount=10))  # C10 net 30
    rows.append(row("C11", days_ago(3), "visit"))  # no purchase: not scored
    record(crm, rows)


def scored(crm):
    """Every customer's RFM; checks that each one's ``rfm_score`` (one customer, as on the
    360 card) is the same, and so is the score the sweep stores."""
    api = crm.plugin("analytical")
    every = {s.external_id: s for s in api.rfm()}
    assert {external_id: api.rfm_score(external_id) for external_id in every} == every
    crm.sweep()
    now = crm.clock.now()
    assert {external_id: api.stored_rfm_score(external_id) for external_id in every} == {
        external_id: (now, score) for external_id, score in every.items()}
    return every


def test_quintiles_worked_by_hand(crm):
    crm.plugins.enable("analytical")
    load(crm)
    got = scored(crm)
    assert sorted(got) == [f"C{i:02d}" for i in range(1, 11)]
    assert crm.plugin("analytical").rfm_score("C11") is None  # no purchase
    # score = ⌊5 · (customers strictly worse) / 10⌋ + 1 (the best value: 5)
    # R (days): C08 300, C09 200, C01 100, C02 = C03 50, C10 30, C06 20, C07 10, C04 5, C05 1
    # F: 1 (C01 C04 C08), 2 (C02 C06 C10), 3 (C03 C09), 4 (C07), 5 (C05)
    # M: 10 C01, 20 C08, 30 C10, 50 C02, 60 C06, 90 C09, 100 = 100 (C03 C07), 250 C05, 500 C04
    expected = {
        "C01": (100, 1, "10", 2, 1, 1, "hibernating"),
        "C02": (50, 2, "50", 2, 2, 2, "hibernating"),
        "C03": (50, 3, "100", 2, 4, 4, "can't lose"),
        "C04": (5, 1, "500", 5, 1, 5, "new"),
        "C05": (1, 5, "250", 5, 5, 5, "champions"),
        "C06": (20, 2, "60", 4, 2, 3, "potential loyalists"),
        "C07": (10, 4, "100", 4, 5, 4, "champions"),
        "C08": (300, 1, "20", 1, 1, 1, "lost"),
        "C09": (200, 3, "90", 1, 4, 3, "at risk"),
        "C10": (30, 2, "30", 3, 2, 2, "need attention"),
    }
    for customer, (recency, frequency, monetary, r, f, m, segment) in expected.items():
        s = got[customer]
        assert (s.recency_days, s.frequency, s.monetary, s.r, s.f, s.m, s.segment) == (
            recency, frequency, Decimal(monetary), r, f, m, segment), customer
    counts = crm.plugin("analytical").rfm_segments()
    assert counts["champions"] == 2 and counts["hibernating"] == 2 and counts["loyal"] == 0
    assert sum(counts.values()) == 10


def test_equal_values_always_get_equal_scores_and_all_equal_is_the_top(crm):
    crm.plugins.enable("analytical")
    record(crm, [row(f"T{i}", days_ago(10), amount=100) for i in range(7)])
    assert {(s.r, s.f, s.m, s.segment) for s in scored(crm).values()} == {(5, 5, 5, "champions")}


def test_a_single_customer_gets_the_top_scores(crm):
    crm.plugins.enable("analytical")
    record(crm, [row("ONE", days_ago(400), amount=5)])
    s = scored(crm)["ONE"]
    assert (s.recency_days, s.r, s.f, s.m, s.segment) == (400, 5, 5, 5, "champions")


def test_ties_at_the_top_get_the_top_score(crm):
    crm.plugins.enable("analytical")
    record(crm, [row("A", days_ago(30), amount=10),
                 row("B", days_ago(20), amount=10), row("B", days_ago(10), amount=10),
                 row("C", days_ago(15), amount=10), row("C", days_ago(10), amount=10),
                 row("D", days_ago(10), amount=40)])
    # R: A 30, B = C = D 10 (best: 5); F: A = D 1 (nobody worse: 1), B = C 2 (best: 5);
    # M: A 10 (1), B = C 20 (1 worse: ⌊5·1/4⌋ + 1 = 2), D 40 (best: 5)
    assert {k: (s.r, s.f, s.m) for k, s in scored(crm).items()} == {
        "A": (1, 1, 1), "B": (5, 5, 2), "C": (5, 5, 2), "D": (5, 1, 5)}


def test_bins_default_changes_the_scores(crm):
    crm.plugins.enable("analytical", {"rfm": {"bins": 2}})
    load(crm)
    r = {k: s.r for k, s in scored(crm).items()}
    # ⌊2k/10⌋ + 1: the five with k <= 4 strictly-worse customers score 1
    assert [k for k, v in sorted(r.items()) if v == 1] == ["C01", "C02", "C03", "C08", "C09"]


def test_frequency_days_and_mean_monetary(crm):
    crm.plugins.enable("analytical", {"rfm": {"frequency": "days", "monetary": "mean"}})
    load(crm)
    got = scored(crm)
    assert got["C05"].frequency == 4  # two purchases on one day count once
    assert got["C05"].monetary == Decimal("62.5")  # 250 / 4 days
    assert got["C10"].monetary == Decimal("15")  # (40 − 10) / 2
    # means: 10 C01, 15 C10, 20 C08, 25 C02 C07 (ranked equal), 30 C06 C09, 33.3 C03, 62.5 C05, 500 C04
    assert {k: s.m for k, s in got.items()} == {
        "C01": 1, "C10": 1, "C08": 2, "C02": 2, "C07": 2, "C06": 3, "C09": 3, "C03": 4,
        "C05": 5, "C04": 5}


def test_custom_segments_replace_the_defaults(crm):
    crm.plugins.enable("analytical", {"rfm": {"segments": [
        {"name": "big", "if": {"field": "monetary", "op": "ge", "value": 100}},
        {"name": "rest", "if": {"all": []}}]}})
    load(crm)
    assert {k for k, s in scored(crm).items() if s.segment == "big"} == {"C03", "C04", "C05", "C07"}
    assert crm.plugin("analytical").rfm_segments() == {"big": 4, "rest": 6}


def test_a_bad_segment_rule_is_a_config_error_naming_the_pointer(crm):
    from crmkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"/rfm/segments/0/if"):
        crm.plugins.enable("analytical", {"rfm": {"segments": [
            {"name": "x", "if": {"field": "colour", "op": "eq", "value": 1}}]}})
    assert "analytical" not in crm.enabled_plugins()


def test_a_money_amount_with_more_places_than_money_keeps_is_refused_not_rounded(crm):
    from crmkit.errors import ConfigError, ValidationError

    with pytest.raises(ConfigError, match=r"^/rfm/segments/0/if/value: 100\.00005 has more "
                                          r"than 4 decimal places"):
        crm.plugins.enable("analytical", {"rfm": {"segments": [
            {"name": "big", "if": {"field": "monetary", "op": "ge", "value": 100.00005}}]}})
    assert "analytical" not in crm.enabled_plugins()
    crm.plugins.enable("analytical")
    load(crm)
    api = crm.plugin("analytical")
    with pytest.raises(ValidationError, match=r"/condition/value/1: 0\.00005 has more than 4 "
                                              r"decimal places"):
        api.evaluate_segment({"field": "rfm.monetary", "op": "in", "value": [100, 0.00005]})
    big = api.evaluate_segment({"field": "rfm.monetary", "op": "ge", "value": 100.0001})
    assert big == api.evaluate_segment({"field": "rfm.monetary", "op": "gt", "value": "100"})


def test_rfm_grid_counts_cells(crm):
    crm.plugins.enable("analytical")
    load(crm)
    grid = {(c["r"], c["f"]): (c["customers"], c["mean_net_spend"])
            for c in crm.plugin("analytical").rfm_grid()}
    assert grid[(2, 1)] == (1, Decimal("10.00"))
    assert grid[(4, 5)] == (1, Decimal("100.00"))
    assert grid[(5, 1)] == (1, Decimal("500.00"))
    assert sum(n for n, _ in grid.values()) == 10


def test_the_sweep_stores_scores_that_stay_until_the_next_sweep(crm, clock):
    crm.plugins.enable("analytical")
    load(crm)
    api = crm.plugin("analytical")
    assert api.stored_rfm_score("C01") is None  # no sweep yet
    swept_at = clock.now()
    assert crm.sweep()["analytical"]["rfm_changes"] == 10
    assert api.stored_rfm_score("C11") is None  # no purchase: not stored
    assert crm.sweep()["analytical"]["rfm_changes"] == 0  # nothing changed: nothing written
    clock.advance(days=2)
    record(crm, [row("C01", days_ago(-1), amount=500)])
    at, before = api.stored_rfm_score("C01")
    assert at == swept_at and (before.recency_days, before.frequency) == (100, 1)
    live = api.rfm_score("C01")
    assert (live.recency_days, live.frequency, live.monetary) == (1, 2, Decimal("510"))
    changes = crm.sweep()["analytical"]["rfm_changes"]
    assert changes >= 1  # C01, and whoever C01 overtook
    assert api.stored_rfm_score("C01") == (clock.now(), live)
    assert {s.external_id: (clock.now(), s) for s in api.rfm()} == {
        s.external_id: api.stored_rfm_score(s.external_id) for s in api.rfm()}


def test_stored_scores_are_not_read_under_other_settings_nor_stored_when_switched_off(crm):
    crm.plugins.enable("analytical")
    load(crm)
    api = crm.plugin("analytical")
    crm.sweep()
    assert api.stored_rfm_score("C04") is not None
    crm.plugins.configure("analytical", {"rfm": {"bins": 2}})
    assert api.stored_rfm_score("C04") is None  # scored with five bins
    crm.plugins.configure("analytical", {"rfm": {"bins": 2, "store_on_sweep": False},
                                         "lifecycle": {"update_on_sweep": False}})
    assert crm.sweep()["analytical"] == {}
    assert api.stored_rfm_score("C04") is None
    crm.plugins.configure("analytical", {"rfm": {"bins": 5}, "refund_kinds": []})
    assert api.stored_rfm_score("C10") is None  # the refund kinds changed


def test_merge_drops_both_stored_scores_and_erase_drops_the_customer_s(crm):
    crm.plugins.enable("analytical")
    load(crm)
    api = crm.plugin("analytical")
    crm.sweep()
    crm.customers.merge("C04", "C05")
    assert api.stored_rfm_score("C04") is None  # scored live from the merged history
    assert api.rfm_score("C04").frequency == 6
    crm.customers.erase("C07")
    assert api.stored_rfm_score("C07") is None
    crm.sweep()
    assert api.stored_rfm_score("C04")[1].frequency == 6
    assert api.stored_rfm_score("C07") is None  # erased customers are never stored again
    assert api.stored_rfm_score("C03")[1] == api.rfm_score("C03")
