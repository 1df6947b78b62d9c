"""The sweep's two phases for analytical: stages and RFM scores are computed before the
write transaction (other writers do not wait for it), and what changed in between is left
for the next sweep: customers merged or erased meanwhile are not stored."""

from __future__ import annotations

from sqlalchemy import select

import crmkit_analytical.sweep
from crmkit import CRM
from crmkit.plugin import customers
from crmkit_analytical.tables import lifecycle as stages_table, rfm_scores

from analytical_support import days_ago, record, row
from test_analytical_rfm import load


def stored(crm) -> set[str]:
    """The external ids with a stored lifecycle stage or a stored RFM score."""
    with crm.read() as conn:
        names = dict(conn.execute(select(customers.c.id, customers.c.external_id)).all())
        ids = set(conn.execute(select(stages_table.c.customer_id)).scalars())
        ids |= set(conn.execute(select(rfm_scores.c.customer_id)).scalars())
    return {names[i] for i in ids}


def test_the_sweep_computes_before_writing_and_leaves_out_who_changed_in_between(
        crm, crm_url, clock, monkeypatch):
    crm.plugins.enable("analytical")
    load(crm)
    api = crm.plugin("analytical")
    crm.sweep()
    before = api.stored_rfm_score("C04")
    prepare = crmkit_analytical.sweep.prepare
    outside = []

    def with_writers_in_between(crm_, as_of):
        prepared = prepare(crm_, as_of)
        outside.append(crm_.current_transaction() is None)
        # another process writes between the phases; it would wait for a sweep that held
        # the write lock while scoring (SQLite: until its busy timeout, then fail)
        with CRM.open(crm_url, clock=clock) as other:
            other.customers.merge("C04", "C05")
            other.customers.erase("C07")
            record(other, [row("C12", days_ago(1), amount=70)])
        return prepared

    monkeypatch.setattr(crmkit_analytical.sweep, "prepare", with_writers_in_between)
    clock.advance(days=1)
    crm.sweep()
    assert outside == [True]
    assert "C07" not in stored(crm)  # erased meanwhile: never stored again
    assert api.stored_rfm_score("C04") is None  # merged meanwhile: scored another history
    assert api.stored_rfm_score("C12") is None  # new meanwhile: the next sweep's
    assert api.stored_rfm_score("C03")[0] == clock.now()
    assert before is not None and api.rfm_score("C04").frequency == 6
    monkeypatch.setattr(crmkit_analytical.sweep, "prepare", prepare)
    crm.sweep()
    assert api.stored_rfm_score("C04")[1] == api.rfm_score("C04")  # the merged history
    assert api.stored_rfm_score("C12")[1] == api.rfm_score("C12")
    assert "C07" not in stored(crm)


def test_a_reconfiguration_between_the_phases_stores_what_the_new_settings_give(
        crm, crm_url, clock, monkeypatch):
    crm.plugins.enable("analytical")
    load(crm)
    api = crm.plugin("analytical")
    prepare = crmkit_analytical.sweep.prepare

    def reconfigured_in_between(crm_, as_of):
        prepared = prepare(crm_, as_of)
        with CRM.open(crm_url, clock=clock) as other:
            other.plugins.configure("analytical", {"rfm": {"bins": 2}})
        return prepared

    monkeypatch.setattr(crmkit_analytical.sweep, "prepare", reconfigured_in_between)
    crm.sweep()
    assert {s.external_id: api.stored_rfm_score(s.external_id)[1] for s in api.rfm()} == {
        s.external_id: s for s in api.rfm()}  # scored with two bins, not five
    assert {s.r for s in api.rfm()} == {1, 2}
