"""Rewards: the catalogue, atomic redemption, stock, racing redemptions, manual adjustments."""

from __future__ import annotations

import multiprocessing

import pytest
from loyalty_support import T_RACE, at, redeem_worker
from sqlalchemy import func, select

from crmkit import tables
from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConflictError, NotFound, ValidationError
from crmkit_loyalty import ledger as lg
from crmkit_loyalty.errors import NotEnoughPoints, OutOfStock
from crmkit_loyalty.tables import ledger, lot_uses

PLAIN = {"tiers": [], "milestones": [], "expiry_mode": "none"}


def ledger_count(crm) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(ledger)).scalar_one()


def test_catalogue(crm, loyalty):
    api = loyalty(PLAIN)
    api.add_reward("MUG", 200, stock=3, name="A mug")
    api.add_reward("COFFEE", 50)
    assert [(r.code, r.name, r.points, r.stock, r.active) for r in api.rewards()] == [
        ("COFFEE", "COFFEE", 50, None, True), ("MUG", "A mug", 200, 3, True)]
    with pytest.raises(ConflictError, match="reward 'MUG' already exists"):
        api.add_reward("MUG", 10)
    with pytest.raises(ValidationError, match="points: 0 must be a whole number >= 1"):
        api.add_reward("FREE", 0)
    with pytest.raises(ValidationError, match="stock: -1 must be a whole number >= 0"):
        api.add_reward("NEG", 5, stock=-1)
    assert len(api.rewards()) == 2


def test_refused_redemptions_change_nothing(crm, loyalty, shop):
    api = loyalty(PLAIN)
    api.add_reward("BIG", 500)
    api.add_reward("ONE", 10, stock=1)
    shop.purchase("C1", "100", at(2024, 12, 1))
    rows = ledger_count(crm)
    with pytest.raises(NotEnoughPoints, match="'C1' has 100 points available; reward 'BIG' costs 500"):
        api.redeem("C1", "BIG")
    with pytest.raises(NotFound, match="no reward 'NOPE'"):
        api.redeem("C1", "NOPE")
    api.redeem("C1", "ONE")
    with pytest.raises(OutOfStock, match="reward 'ONE' is out of stock"):
        api.redeem("C1", "ONE")
    assert ledger_count(crm) == rows + 1
    assert api.balance("C1") == 90
    assert [r.stock for r in api.rewards() if r.code == "ONE"] == [0]
    assert api.restock("ONE", 2).stock == 2
    api.redeem("C1", "ONE")
    assert api.balance("C1") == 80
    api.retire("ONE")
    with pytest.raises(NotFound, match="retired"):
        api.redeem("C1", "ONE")
    events = crm.events.list(type="reward.redeemed")
    assert [(e.payload["reward"], e.payload["points"]) for e in events] == [("ONE", 10), ("ONE", 10)]


def test_out_of_stock_is_checked_before_points(crm, loyalty):
    api = loyalty(PLAIN)
    api.add_reward("GONE", 10, stock=0)
    with pytest.raises(OutOfStock):
        api.redeem("C1", "GONE")


def test_manual_adjustments(crm, loyalty, shop):
    api = loyalty(PLAIN)
    shop.purchase("C1", "30", at(2024, 12, 1))
    api.adjust("C1", 20, "goodwill: late delivery")
    assert api.balance("C1") == 50
    with pytest.raises(NotEnoughPoints, match="has 50 points; cannot deduct 60"):
        api.adjust("C1", -60, "correction")
    api.adjust("C1", -45, "correction")
    assert api.balance("C1") == 5
    with pytest.raises(ValidationError, match="reason: required"):
        api.adjust("C1", 5, " ")
    with crm.read() as conn:
        audited = conn.execute(select(func.count()).select_from(tables.audit_log)
                               .where(tables.audit_log.c.action == "adjust")).scalar_one()
    assert audited == 2


def test_two_processes_racing_never_overspend(crm, crm_url, loyalty, shop, clock):
    """60 attempts from two OS processes against a balance covering 40."""
    api = loyalty(PLAIN)
    api.add_reward("R10", 10)
    shop.purchase("C1", "250", at(2024, 12, 1))
    shop.purchase("C1", "150", at(2024, 12, 2))          # 400 points in two lots
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=redeem_worker, args=(crm_url, 30, barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sum(ok for ok, _ in outcomes) == 40
    assert sum(refused for _, refused in outcomes) == 20
    assert api.balance("C1") == 0
    assert min(line.balance for line in api.statement("C1")) >= 0
    cid = crm.customers.get("C1").id
    with crm.read() as conn:
        used = dict(conn.execute(select(lot_uses.c.lot_id, func.sum(lot_uses.c.points))
                                 .group_by(lot_uses.c.lot_id)).all())
        earned = dict(conn.execute(select(ledger.c.id, ledger.c.points)
                                   .where(ledger.c.points > 0)).all())
        assert lg.open_lots(conn, [cid]) == {}
    assert used == earned                                # each lot used exactly once in full
    assert T_RACE == clock.now()


@pytest.mark.parametrize("what, write", [
    ("reward code", lambda api, text: api.add_reward(text, 10)),
    ("reward R1: name", lambda api, text: api.add_reward("R1", 10, name=text)),
    ("adjust: reason", lambda api, text: api.adjust("C1", 5, text)),
])
def test_codes_names_and_reasons_keep_the_core_max_field_length(crm, loyalty, what, write):
    api = loyalty(PLAIN)
    assert_keeps_max_field_length(crm, what, lambda text: write(api, text),
                                  lambda: (api.rewards(), ledger_count(crm)))
