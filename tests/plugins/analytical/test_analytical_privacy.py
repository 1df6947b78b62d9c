"""Timeline, merge, export and erase over the analytical tables; segments over stored CLV."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from analytical_simulate import purchase_history
from analytical_support import ids, record, row
from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit_analytical.tables import clv_predictions, clv_runs, lifecycle


def prepared(crm):
    crm.plugins.enable("analytical")
    # 120 customers identify the BG/NBD (80 of this history do not: a, b → ∞, see the model tests)
    rows, _, _ = purchase_history(customers=120)
    record(crm, rows)
    api = crm.plugin("analytical")
    api.clv_predictions(store=True)
    api.update_lifecycle()
    return api


def rows_of(crm, customer_id: int) -> tuple[int, int]:
    with crm.read() as conn:
        return (conn.execute(select(func.count()).select_from(lifecycle)
                             .where(lifecycle.c.customer_id == customer_id)).scalar(),
                conn.execute(select(func.count()).select_from(clv_predictions)
                             .where(clv_predictions.c.customer_id == customer_id)).scalar())


def test_timeline_and_export(crm):
    api = prepared(crm)
    [stage] = [s for c, s in api.lifecycle_stages().items() if c == ids(crm)["S0001"]]
    entries = [e for e in crm.customers.timeline("S0001") if e.source == "analytical"]
    assert [e.kind for e in entries] == ["lifecycle", "clv"]
    assert entries[0].summary == f"lifecycle stage {stage}"
    prediction = next(p for p in api.clv_predictions() if p.external_id == "S0001")
    assert entries[1].summary.startswith(f"predicted CLV {prediction.clv} over 12 months")
    exported = crm.customers.export_data("S0001")["plugins"]["analytical"]
    assert exported["lifecycle"]["stage"] == stage
    assert [Decimal(p["clv"]) for p in exported["clv_predictions"]] == [prediction.clv]


def test_timeline_shows_only_the_latest_clv_prediction(crm):
    api = prepared(crm)
    api.clv_predictions(store=True)
    with crm.read() as conn:
        latest_run = conn.execute(select(func.max(clv_runs.c.id))).scalar()
    entries = [e for e in crm.customers.timeline("S0001") if e.kind == "clv"]
    assert [e.details["run_id"] for e in entries] == [latest_run]
    # every run stays in the customer's data export
    assert len(crm.customers.export_data("S0001")["plugins"]["analytical"]["clv_predictions"]) == 2


def test_merge_leaves_no_row_pointing_at_the_duplicate(crm):
    api = prepared(crm)
    customer = ids(crm)
    keep, duplicate = customer["S0001"], customer["S0002"]
    assert rows_of(crm, duplicate) == (1, 1)
    crm.customers.merge("S0001", "S0002")
    assert rows_of(crm, duplicate) == (0, 0)
    assert rows_of(crm, keep) == (1, 1)
    # the merged history is one customer's from now on
    assert ids(crm).get("S0002") is None
    assert keep in api.clv_by_customer() and duplicate not in api.clv_by_customer()


def test_erase_removes_profiles_and_keeps_totals(crm):
    api = prepared(crm)
    victim = ids(crm)["S0003"]
    with crm.read() as conn:
        totals = conn.execute(select(clv_runs.c.customers, clv_runs.c.total_clv)).all()
    crm.customers.erase("S0003")
    assert rows_of(crm, victim) == (0, 0)
    with crm.read() as conn:
        assert conn.execute(select(clv_runs.c.customers, clv_runs.c.total_clv)).all() == totals
    # a new run does not store a profile of the erased customer, and the stage is not stored again
    record(crm, [row("S0004", "2025-01-01T11:00", amount=5)])
    api.clv_predictions(store=True)
    api.update_lifecycle()
    assert rows_of(crm, victim) == (0, 0)
    assert crm.customers.export_data("S0004")["plugins"]["analytical"]["clv_predictions"]


def test_segments_over_stored_clv_and_lifecycle(crm):
    api = prepared(crm)
    condition = {"all": [{"field": "clv", "op": "ge", "value": 100},
                         {"field": "lifecycle", "op": "eq", "value": "active"}]}
    api.save_segment("valuable-active", condition, "CLV >= 100 and active")
    predicted = {p.customer_id: p.clv for p in api.clv_predictions()}
    stages = api.lifecycle_stages()
    expected = sorted(c for c, v in predicted.items()
                      if v >= Decimal(100) and stages[c] == "active")
    assert sorted(api.segment_members("valuable-active")) == expected and expected
    assert api.segment_names() == ["valuable-active"]


@pytest.mark.parametrize("field", ["name", "description"])
def test_a_segment_name_and_description_keep_the_core_max_field_length(crm, field):
    crm.plugins.enable("analytical")
    api = crm.plugin("analytical")
    condition = {"field": "lifecycle", "op": "eq", "value": "active"}
    given = {"name": "active", "description": "active ones"}

    def save(text: str):
        named = dict(given, **{field: text})
        return api.save_segment(named["name"], condition, named["description"])

    assert_keeps_max_field_length(crm, field, save, api.segment_names)
