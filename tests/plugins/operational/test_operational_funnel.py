"""The funnel: stage moves and their history, the weighted pipeline, renewals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ValidationError
from crmkit_operational.tables import opportunities, stage_history

UTC = dt.timezone.utc
MANUAL = {"assignment": {"assign_leads_on": "never"}}


def snapshot(crm):
    with crm.read() as conn:
        return (conn.execute(select(func.count()).select_from(stage_history)).scalar_one(),
                [tuple(r) for r in conn.execute(select(opportunities.c.id, opportunities.c.stage)
                                                .order_by(opportunities.c.id))],
                len(crm.events.list(limit=None)))


def test_lead_moves_forward_and_never_back_or_out_of_disqualified(crm, operational):
    api = operational(MANUAL)
    crm.customers.add("C1")
    api.set_lead_stage("C1", "sal")  # lead -> sal skips mql: forward is fine
    before = snapshot(crm)
    with pytest.raises(ValidationError, match=r"lead \d+: moving back from 'sal' to 'mql' is not "
                                              r"allowed \(funnel.allow_backward is false\)"):
        api.set_lead_stage("C1", "mql")
    with pytest.raises(ValidationError, match=r"'proposal' is not a lead stage \(allowed: lead, "
                                              r"mql, sal, sql, disqualified\)"):
        api.set_lead_stage("C1", "proposal")
    assert snapshot(crm) == before and api.lead("C1")["stage"] == "sal"
    api.set_lead_stage("C1", "disqualified")
    before = snapshot(crm)
    with pytest.raises(ValidationError, match="cannot leave 'disqualified'"):
        api.set_lead_stage("C1", "sql")
    with pytest.raises(ValidationError, match="the lead is disqualified"):
        api.create_opportunity("C1", "Deal", "100")
    assert snapshot(crm) == before


def test_allow_backward_permits_moving_back(crm, operational):
    api = operational({"funnel": {"allow_backward": True}, **MANUAL})
    crm.customers.add("C1")
    api.set_lead_stage("C1", "sal")
    api.set_lead_stage("C1", "mql")
    opp = api.create_opportunity("C1", "Deal", "10", stage="proposal")
    api.move_opportunity(opp, "qualification")
    assert api.opportunities()[0]["stage"] == "qualification"


def test_opportunity_moves_history_and_events(crm, clock, operational, staff, events):
    api = operational(MANUAL)
    staff("sales", "ana")
    c1 = crm.customers.add("C1")
    api.set_lead_stage("C1", "mql")
    opp = api.create_opportunity("C1", "Annual plan", "1200.50", "EUR", "ana", dt.date(2025, 3, 31))
    assert api.lead("C1")["stage"] == "sql"  # the lead moved forward to sql
    clock.advance(days=3)
    api.move_opportunity(opp, "proposal")
    clock.advance(days=4)
    before = snapshot(crm)
    with pytest.raises(ValidationError, match=rf"opportunity {opp}: moving back from 'proposal' to "
                                              r"'needs_analysis' is not allowed"):
        api.move_opportunity(opp, "needs_analysis")
    with pytest.raises(ValidationError, match=r"'sal' is not an opportunity stage \(allowed: "
                                              r"qualification, needs_analysis, proposal, negotiation, "
                                              r"commit, won, lost\)"):
        api.move_opportunity(opp, "sal")
    assert snapshot(crm) == before
    api.move_opportunity(opp, "won")
    before = snapshot(crm)
    for target in ("lost", "commit"):
        with pytest.raises(ValidationError, match=r"cannot leave 'won' \(create a new opportunity"):
            api.move_opportunity(opp, target)
    assert snapshot(crm) == before
    history = api.stage_history("opportunity", opp)
    assert [(h["from_stage"], h["to_stage"], h["at"].day) for h in history] == [
        (None, "qualification", 1), ("qualification", "proposal", 4), ("proposal", "won", 8)]
    payloads = [p for p in events("stage.changed", c1.id) if p["entity"] == "opportunity"]
    assert payloads[-1] == {"entity": "opportunity", "record_id": opp, "from": "proposal",
                            "to": "won", "owner": "ana", "amount": "1200.5000", "currency": "EUR"}
    assert [(p["from"], p["to"]) for p in events("stage.changed", c1.id)
            if p["entity"] == "lead"] == [(None, "lead"), ("lead", "mql"), ("mql", "sql")]


def test_lost_from_any_open_stage(crm, operational):
    api = operational(MANUAL)
    crm.customers.add("C1")
    opp = api.create_opportunity("C1", "Deal", "10", stage="commit")
    api.move_opportunity(opp, "lost")
    with pytest.raises(ValidationError, match="cannot leave 'lost'"):
        api.move_opportunity(opp, "won")


def test_bad_opportunity_input_is_rejected_and_writes_nothing(crm, operational):
    api = operational(MANUAL)
    crm.customers.add("C1")
    before = snapshot(crm)
    with pytest.raises(ValidationError, match="floats are refused"):
        api.create_opportunity("C1", "Deal", 10.5)
    with pytest.raises(ValidationError, match="opportunity amount: -1 is negative"):
        api.create_opportunity("C1", "Deal", "-1")
    with pytest.raises(ValidationError, match="'won' is not an open opportunity stage"):
        api.create_opportunity("C1", "Deal", "1", stage="won")
    with pytest.raises(ValidationError, match="opportunity currency: 'US\\$' is not an ISO 4217 "
                       "currency code"):
        api.create_opportunity("C1", "Deal", "1", currency="US$")
    assert snapshot(crm) == before


def pipeline_fixture(crm, api, staff):
    staff("sales", "ana", "ben")
    for c in ("C1", "C2", "C3", "C4", "C5"):
        crm.customers.add(c, lifecycle_stage="customer")
    deals = [("C1", "1000.00", "ana", "qualification", dt.date(2025, 2, 10)),
             ("C2", "2500.50", "ana", "proposal", dt.date(2025, 2, 20)),
             ("C3", "400.25", "ben", "proposal", dt.date(2025, 3, 5)),
             ("C4", "8000.00", "ben", "commit", dt.date(2025, 3, 31)),
             ("C5", "999.99", "ben", "negotiation", None)]
    ids = [api.create_opportunity(c, "Deal", amount, "GBP", owner, close, stage)
           for c, amount, owner, stage, close in deals]
    won = api.create_opportunity("C1", "Closed", "5000", "GBP", "ana", stage="commit")
    api.move_opportunity(won, "won")
    api.create_opportunity("C2", "Other currency", "300", "USD", "ana", stage="proposal")
    return ids


def test_weighted_pipeline_equals_the_hand_computed_sum(crm, operational, staff):
    api = operational(MANUAL)
    pipeline_fixture(crm, api, staff)
    rows = {(r["stage"], r["currency"]): r for r in api.weighted_pipeline()}
    assert list(rows) == [("qualification", "GBP"), ("proposal", "GBP"), ("proposal", "USD"),
                          ("negotiation", "GBP"), ("commit", "GBP")]
    # 1000 x 10% = 100; (2500.50 + 400.25) x 50% = 1450.375; 999.99 x 75% = 749.9925; 8000 x 90% = 7200
    assert rows[("qualification", "GBP")]["weighted"] == Decimal("100")
    assert rows[("proposal", "GBP")]["weighted"] == Decimal("1450.375")
    assert rows[("proposal", "GBP")]["amount"] == Decimal("2900.75")
    assert rows[("proposal", "GBP")]["opportunities"] == 2
    assert rows[("negotiation", "GBP")]["weighted"] == Decimal("749.9925")
    assert rows[("commit", "GBP")]["weighted"] == Decimal("7200")
    assert rows[("proposal", "USD")]["weighted"] == Decimal("150")
    total = sum(r["weighted"] for k, r in rows.items() if k[1] == "GBP")
    assert total == Decimal("9500.3675")  # the won 5000 is closed business, not pipeline
    by_owner = {(r["owner"], r["currency"]): r["weighted"]
                for r in api.weighted_pipeline(by=("owner",))}
    assert by_owner == {("ana", "GBP"): Decimal("1350.25"), ("ana", "USD"): Decimal("150"),
                        ("ben", "GBP"): Decimal("8150.1175")}
    by_month = {(r["month"], r["currency"]): r["weighted"]
                for r in api.weighted_pipeline(by=("month",))}
    assert by_month == {("2025-02", "GBP"): Decimal("1350.25"),
                        ("2025-03", "GBP"): Decimal("7400.125"),
                        (None, "GBP"): Decimal("749.9925"), (None, "USD"): Decimal("150")}


def test_probabilities_are_configurable(crm, operational, staff):
    api = operational({"funnel": {"opportunity_stages": [
        {"name": "qualification", "probability": 20}, {"name": "proposal", "probability": 60},
        {"name": "negotiation", "probability": 80}, {"name": "commit", "probability": 95}]},
        **MANUAL})
    pipeline_fixture(crm, api, staff)
    rows = {(r["stage"], r["currency"]): r["weighted"] for r in api.weighted_pipeline()}
    assert rows[("qualification", "GBP")] == Decimal("200")
    assert rows[("proposal", "GBP")] == Decimal("1740.45")
    assert rows[("commit", "GBP")] == Decimal("7600")


def test_pipeline_as_of_a_past_date_uses_the_stage_history(crm, clock, operational):
    api = operational(MANUAL)
    crm.customers.add("C1", lifecycle_stage="customer")
    start = clock.now()
    opp = api.create_opportunity("C1", "Deal", "1000")
    clock.advance(days=10)
    api.move_opportunity(opp, "commit")
    clock.advance(days=10)
    api.move_opportunity(opp, "won")
    assert api.weighted_pipeline() == []
    [then] = api.weighted_pipeline(start + dt.timedelta(days=5))
    assert (then["stage"], then["weighted"]) == ("qualification", Decimal("100"))
    [later] = api.weighted_pipeline(start + dt.timedelta(days=15))
    assert (later["stage"], later["weighted"]) == ("commit", Decimal("900"))
    assert api.weighted_pipeline(start - dt.timedelta(days=1)) == []


def test_a_win_creates_a_renewal_when_renewal_after_days_is_set(crm, clock, operational):
    api = operational(MANUAL)
    crm.customers.add("C1", lifecycle_stage="customer")
    opp = api.create_opportunity("C1", "Annual plan", "1200")
    assert api.move_opportunity(opp, "won") is None  # default: no renewals
    crm.plugins.configure("operational", {"funnel": {"renewal_after_days": 365}, **MANUAL})
    opp2 = api.create_opportunity("C1", "Support", "300", owner=None)
    renewal = api.move_opportunity(opp2, "won")
    [row] = [o for o in api.opportunities() if o["id"] == renewal]
    assert (row["name"], row["amount"], row["stage"], row["renewal_of"]) == (
        "Renewal: Support", Decimal("300.0000"), "qualification", opp2)
    assert row["expected_close"] == (clock.now() + dt.timedelta(days=365)).date()


@pytest.mark.parametrize("what, write", [
    ("opportunity name", lambda api, text: api.create_opportunity("C1", text, "1")),
    ("task subject", lambda api, text: api.create_task("C1", text, None,
                                                       dt.datetime(2030, 1, 1, tzinfo=UTC))),
    ("case subject", lambda api, text: api.open_case("C1", text)),
])
def test_names_and_subjects_keep_the_core_max_field_length(crm, operational, what, write):
    api = operational(MANUAL)
    crm.customers.add("C1")
    assert_keeps_max_field_length(crm, what, lambda text: write(api, text),
                                  lambda: (snapshot(crm), api.tasks(), api.cases()))
