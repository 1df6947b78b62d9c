"""Expiry: FIFO consumption by expiry date and the four modes; runs are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from loyalty_support import at, merge
from sqlalchemy import inspect, select

import crmkit_loyalty
from crmkit import migrate
from crmkit.errors import DatabaseError
from crmkit_loyalty import ledger as lg
from crmkit_loyalty.errors import NotEnoughPoints
from crmkit_loyalty.tables import IS_LOT, ledger, lot_uses

NO_BONUS = {"tiers": [], "milestones": []}


def remaining(crm, customer="C1"):
    cid = crm.customers.get(customer).id
    with crm.read() as conn:
        rows = conn.execute(select(ledger.c.id, ledger.c.points).where(
            ledger.c.customer_id == cid, IS_LOT).order_by(ledger.c.id)).all()
        left = {lot.id: lot.remaining for lot in lg.open_lots(conn, [cid]).get(cid, [])}
    return [left.get(row.id, 0) for row in rows]


def expire_rows(crm):
    with crm.read() as conn:
        return conn.execute(select(ledger.c.related_id, ledger.c.points, ledger.c.at)
                            .where(ledger.c.type == "expire").order_by(ledger.c.id)).all()


def test_spending_is_fifo_by_expiry_and_rolling_expiry_is_idempotent(crm, loyalty, shop, clock):
    api = loyalty(NO_BONUS)
    api.add_reward("R150", 150)
    shop.purchase("C1", "100", at(2024, 6, 10))          # expires 2025-06-10
    shop.purchase("C1", "100", at(2024, 3, 10))          # recorded later, expires first: 2025-03-10
    api.redeem("C1", "R150")
    assert remaining(crm) == [50, 0]                     # the March lot is empty, June has 50
    clock.set(at(2025, 7, 1))
    assert api.expire().rows == 1
    assert api.expire().rows == 0                        # same clock: nothing more
    june = [r for r in expire_rows(crm)]
    assert [(r.points, r.at) for r in june] == [(-50, at(2024, 6, 10).replace(year=2025))]
    assert api.balance("C1") == 0


def test_one_expire_row_per_lot_at_its_date(crm, loyalty, shop, clock):
    api = loyalty(NO_BONUS)
    shop.purchase("C1", "100", at(2024, 3, 10))
    shop.purchase("C1", "70", at(2024, 6, 10))
    assert api.expire(at(2025, 3, 9)).rows == 0
    first = api.expire(at(2025, 3, 10))
    assert (first.rows, first.points, first.members) == (1, 100, 1)
    assert api.balance("C1", at(2025, 3, 10)) == 70
    clock.set(at(2025, 12, 1))
    assert api.expire().rows == 1
    assert api.expire().rows == 0
    assert [(r.points, r.at) for r in expire_rows(crm)] == [(-100, at(2025, 3, 10)),
                                                            (-70, at(2025, 6, 10))]
    assert api.balance("C1") == 0


def test_expiry_months_changes_the_lifetime(crm, loyalty, shop):
    api = loyalty(dict(NO_BONUS, expiry_months=6))
    shop.purchase("C1", "100", at(2024, 3, 10))
    assert api.expire(at(2024, 9, 10)).points == 100


def test_lapsed_points_cannot_be_spent_before_the_expiry_run(crm, loyalty, shop, clock):
    api = loyalty(NO_BONUS)
    api.add_reward("R50", 50)
    shop.purchase("C1", "100", at(2023, 12, 1))
    with pytest.raises(NotEnoughPoints):
        api.redeem("C1", "R50")                          # clock 2025-01-01: lot expired 2024-12-01
    assert [line.points for line in api.liability()] == [0]     # not outstanding either
    assert api.liability_by_expiry() == []


def test_calendar_mode_expires_at_the_end_of_the_following_year(crm, loyalty, shop):
    api = loyalty(dict(NO_BONUS, expiry_mode="calendar"))
    shop.purchase("C1", "100", at(2024, 3, 10))
    shop.purchase("C1", "40", at(2024, 12, 31, 23))
    assert api.expire(at(2025, 12, 31, 23)).rows == 0
    result = api.expire(at(2026, 1, 1))
    assert (result.rows, result.points) == (2, 140)


def test_inactivity_mode_expires_everything_after_months_without_activity(crm, loyalty, shop,
                                                                            clock):
    api = loyalty(dict(NO_BONUS, expiry_mode="inactivity", inactivity_months=12))
    crm.customers.add("C2")
    api.add_reward("R10", 10)
    shop.purchase("C1", "100", at(2024, 1, 10))
    shop.purchase("C1", "50", at(2024, 3, 10))
    shop.purchase("C2", "80", at(2024, 1, 10))
    clock.set(at(2024, 6, 1))
    api.redeem("C2", "R10")                               # C2 stays active
    assert api.expire(at(2025, 3, 9)).rows == 0
    result = api.expire(at(2025, 3, 10))
    assert (result.rows, result.points, result.members) == (2, 150, 1)
    assert {r.at for r in expire_rows(crm)} == {at(2025, 3, 10)}
    assert api.expire(at(2025, 3, 10)).rows == 0
    assert (api.balance("C1", at(2025, 3, 10)), api.balance("C2", at(2025, 3, 10))) == (0, 70)


def test_none_mode_never_expires(crm, loyalty, shop):
    api = loyalty(dict(NO_BONUS, expiry_mode="none"))
    shop.purchase("C1", "100", at(2020, 1, 1))
    assert api.expire(at(2040, 1, 1)).rows == 0
    assert api.balance("C1", at(2040, 1, 1)) == 100


def test_sweep_runs_expiry_and_reviews(crm, loyalty, shop, clock):
    api = loyalty(NO_BONUS)
    shop.purchase("C1", "100", at(2023, 6, 1))
    assert crm.sweep()["loyalty"] == {"expire_rows": 1, "points_expired": 100, "tier_changes": 0}
    assert crm.sweep()["loyalty"]["expire_rows"] == 0
    assert api.balance("C1") == 0


INACTIVE_MONTH = dict(NO_BONUS, expiry_mode="inactivity", inactivity_months=1)


def test_inactivity_lapsed_points_cannot_be_spent_before_the_expiry_run(crm, loyalty, shop,
                                                                        clock):
    api = loyalty(INACTIVE_MONTH)
    api.add_reward("R", 100)
    clock.set(at(2026, 1, 31))
    shop.purchase("C1", "100", at(2026, 1, 31))
    clock.set(at(2026, 12, 6))
    assert api.available("C1") == 0
    with pytest.raises(NotEnoughPoints):
        api.redeem("C1", "R")                             # lapsed 2026-02-28
    result = api.expire()
    assert (result.rows, result.points) == (1, 100)
    assert [(r.points, r.at) for r in expire_rows(crm)] == [(-100, at(2026, 2, 28))]


@pytest.mark.parametrize("runs", [[at(2026, 3, 10), at(2026, 12, 6)], [at(2026, 12, 6)]])
def test_inactivity_expiry_follows_activity_up_to_as_of_whenever_it_runs(crm, loyalty, shop,
                                                                         clock, runs):
    api = loyalty(INACTIVE_MONTH)
    clock.set(at(2026, 1, 31))
    shop.purchase("C1", "100", at(2026, 1, 31))
    clock.set(at(2026, 3, 15))
    shop.purchase("C1", "100", at(2026, 3, 15))          # too late to keep the January points
    clock.set(at(2026, 12, 6))
    march = at(2026, 3, 10)
    assert api.available("C1", march) == api.member("C1", march).available == 0
    assert sum(line.points for line in api.liability(march)) == 0
    assert api.liability_by_expiry(march) == []
    for run in runs:
        api.expire(run)
        assert api.expire(run).rows == 0                  # idempotent
    assert [(r.points, r.at) for r in expire_rows(crm)] == [(-100, at(2026, 2, 28)),
                                                            (-100, at(2026, 4, 15))]
    assert api.available("C1", march) == 0
    assert [line.points for line in api.liability(march)] == [0]
    assert api.balance("C1") == 0


def owed_rows(crm):
    """``(source, points, owed_change, at)`` of the reverse rows, in the order written."""
    with crm.read() as conn:
        return conn.execute(select(ledger.c.source, ledger.c.points, ledger.c.owed_change,
                                   ledger.c.at)
                            .where(ledger.c.type == "reverse").order_by(ledger.c.id)).all()


def test_a_refund_after_an_inactivity_lapse_owes_what_the_expiry_run_left(crm, loyalty, shop,
                                                                          clock):
    api = loyalty(INACTIVE_MONTH, customers=("AHEAD", "C1"))
    # recorded while the clock is still at 2025-01-01: the same, as of the refund's date
    shop.purchase("AHEAD", "100", at(2026, 1, 31), external_id="PA")
    shop.refund("AHEAD", "PA", at(2026, 3, 15))
    clock.set(at(2026, 1, 31))
    shop.purchase("C1", "100", at(2026, 1, 31), external_id="P1")   # lapses 2026-02-28
    clock.set(at(2026, 3, 15))
    shop.refund("C1", "P1", at(2026, 3, 15))             # no expiry run yet
    assert [tuple(r) for r in owed_rows(crm)] == [("refund", 0, 100, at(2026, 3, 15))] * 2
    assert (api.balance("C1"), api.owed("C1")) == (100, 100)
    result = api.expire()                                 # still finds the lapsed 100s
    assert (result.rows, result.points) == (2, 200)
    assert [(r.points, r.at) for r in expire_rows(crm)] == [(-100, at(2026, 2, 28))] * 2
    for customer in ("AHEAD", "C1"):
        assert (api.balance(customer), api.owed(customer)) == (0, 100)
    assert [line.points for line in api.liability()] == [0]


def test_a_refund_after_its_lot_expired_takes_other_lots_then_owes(crm, loyalty, shop, clock):
    api = loyalty(dict(NO_BONUS, lock_days=90))           # rolling, 12 months
    shop.purchase("C1", "100", at(2024, 1, 10), external_id="P1")   # expires 2025-01-10
    clock.set(at(2025, 2, 1))
    shop.purchase("C1", "50", at(2025, 1, 20), external_id="P2")    # locked until 2025-04-20
    shop.refund("C1", "P1", at(2025, 2, 1))              # no expiry run yet
    assert [tuple(r) for r in owed_rows(crm)] == [("refund", -50, 50, at(2025, 2, 1))]
    assert (api.expire().points, api.balance("C1"), api.owed("C1")) == (100, 0, 50)
    assert remaining(crm) == [0, 0]


def test_a_deduction_cannot_take_expired_points(crm, loyalty, shop, clock):
    api = loyalty(NO_BONUS)
    shop.purchase("C1", "100", at(2024, 1, 10))          # expires 2025-01-10
    clock.set(at(2025, 2, 1))
    with pytest.raises(NotEnoughPoints, match="has 0 points; cannot deduct 50"):
        api.adjust("C1", -50, "duplicate earning")
    assert api.expire().points == 100


def test_owed_points_are_paid_only_from_points_valid_on_their_pay_off_date(crm, loyalty, shop,
                                                                           clock):
    """A merged lot pays on the debt's date (it was earned before): nothing if it had expired
    by then, all it holds if it was valid then, though expired by the merge."""
    api = loyalty(dict(NO_BONUS, lock_days=90), customers=("KEEP", "DUP", "OLD"))
    api.add_reward("ALL", 100)
    shop.purchase("OLD", "20", at(2023, 6, 1))           # expires 2024-06-01
    shop.purchase("DUP", "80", at(2024, 1, 10))          # expires 2025-01-10
    clock.set(at(2024, 9, 1))
    shop.purchase("KEEP", "100", at(2024, 6, 1), external_id="K1")
    api.redeem("KEEP", "ALL")
    shop.refund("KEEP", "K1", at(2024, 9, 2))
    assert api.owed("KEEP") == 100
    clock.set(at(2025, 2, 1))
    merge(crm, "KEEP", "OLD")                             # no expiry run yet
    assert api.owed("KEEP") == 100                        # the 20 had expired: nothing paid
    merge(crm, "KEEP", "DUP")
    assert api.owed("KEEP") == 20                         # the 80 were valid on 2024-09-02
    shop.purchase("KEEP", "30", at(2025, 2, 1))          # locked, yet it pays
    assert [tuple(r) for r in owed_rows(crm)] == [
        ("refund", 0, 100, at(2024, 9, 2)), ("owed", -80, -80, at(2024, 9, 2)),
        ("owed", -20, -20, at(2025, 2, 1))]
    assert (api.expire().points, api.balance("KEEP"), api.owed("KEEP")) == (20, 10, 0)


SIX_MONTHS = dict(NO_BONUS, expiry_months=6)


def statement_rows(api, customer="C1"):
    """``(type, source, points, owed_change, at)`` of the member's statement, in the order
    written."""
    return [(line.type, line.source, line.points, line.owed_change, line.at)
            for line in api.statement(customer)]


def test_a_refund_dated_before_an_expiry_run_takes_back_what_the_run_wrote_off(crm, loyalty,
                                                                               shop, clock):
    api = loyalty(SIX_MONTHS)
    shop.purchase("C1", "100", at(2024, 12, 31), external_id="P1")     # expires 2025-06-30
    clock.set(at(2025, 7, 2))
    assert api.expire(at(2025, 7, 1)).points == 100
    shop.refund("C1", "P1", at(2025, 6, 15))             # recorded after the run
    assert (api.balance("C1"), api.owed("C1")) == (0, 0)
    assert statement_rows(api) == [
        ("earn", "purchase", 100, 0, at(2024, 12, 31)),
        ("expire", "expiry", -100, 0, at(2025, 6, 30)),
        ("expire", "expiry", 100, 0, at(2025, 6, 30)),   # the expiry given back
        ("reverse", "refund", -100, 0, at(2025, 6, 15))]
    [expired, given_back] = [line for line in api.statement("C1") if line.type == "expire"]
    assert "2025-06-15" in given_back.reason
    with crm.read() as conn:
        related = conn.execute(select(ledger.c.related_id).where(ledger.c.id == given_back.id)
                               ).scalar()
    assert related == expired.id
    assert [line.balance for line in api.statement("C1")] == [100, 0, 100, 0]
    for moment in (at(2025, 6, 20), at(2025, 6, 30), at(2025, 7, 2)):
        assert api.balance("C1", moment) == api.member("C1", moment).balance == 0
        assert api.available("C1", moment) == 0
        assert sum(line.points for line in api.liability(moment)) == 0
    assert remaining(crm) == [0]
    assert api.expire(at(2025, 7, 1)).rows == 0           # nothing more to write off
    assert api.qualifying("C1", at(2025, 7, 2)) == 0      # the give-back is not earned


def order_outcome(crm, api, shop, clock, customer, purchase, run_first):
    """Balance, owed and net expired points of ``customer`` after a lot of 100 (expiring
    2025-06-30) and one of 50 (expiring 2025-09-30), an expiry run as of 2025-07-01 and a
    refund of the first purchase dated 2025-06-15 recorded after or before that run."""
    clock.set(at(2024, 12, 31))
    shop.purchase(customer, "100", at(2024, 12, 31), external_id=purchase)
    shop.purchase(customer, "50", at(2025, 3, 31))
    clock.set(at(2025, 7, 2))
    if run_first:
        api.expire(at(2025, 7, 1))
    shop.refund(customer, purchase, at(2025, 6, 15), amount="60")
    api.expire(at(2025, 7, 1))
    expired = -sum(line.points for line in api.statement(customer) if line.type == "expire")
    return api.balance(customer), api.owed(customer), expired


def test_a_backdated_refund_takes_the_same_whether_the_expiry_ran_first(crm, loyalty, shop,
                                                                        clock):
    api = loyalty(SIX_MONTHS, customers=("RUN_FIRST", "RUN_AFTER"))
    first = order_outcome(crm, api, shop, clock, "RUN_FIRST", "FIRST", run_first=True)
    after = order_outcome(crm, api, shop, clock, "RUN_AFTER", "AFTER", run_first=False)
    assert first == after == (50, 0, 40)          # 60 refunded from the lot, 40 expired


def test_debits_now_take_back_what_an_expiry_run_as_of_a_later_date_wrote_off(crm, loyalty,
                                                                              shop, clock):
    api = loyalty(SIX_MONTHS)
    api.add_reward("R60", 60)
    shop.purchase("C1", "100", at(2024, 12, 31))         # expires 2025-06-30
    clock.set(at(2025, 6, 1))
    assert api.expire(at(2025, 7, 1)).points == 100       # a run ahead of the clock
    assert api.available("C1") == api.member("C1").available == 100
    api.redeem("C1", "R60")
    api.adjust("C1", -40, "duplicate earning")
    assert (api.balance("C1"), api.owed("C1"), remaining(crm)) == (0, 0, [0])
    assert [line.points for line in api.statement("C1", at(2025, 7, 1))] == [
        100, -100, 60, -60, 40, -40]
    assert api.balance("C1", at(2025, 7, 1)) == 0


def test_loyalty_0002_lets_a_database_of_loyalty_0001_give_back_an_expiry(crm, loyalty, shop,
                                                                          clock):
    api = loyalty(SIX_MONTHS)
    shop.purchase("C1", "100", at(2024, 12, 31), external_id="P1")     # expires 2025-06-30
    clock.set(at(2025, 7, 2))
    assert api.expire(at(2025, 7, 1)).points == 100
    migrations = Path(crmkit_loyalty.__file__).parent / "migrations"
    with crm.connect(write=True) as conn:
        migrate.downgrade(conn, "loyalty@loyalty_0001", [migrations])
        migrate.upgrade(conn, "loyalty@head", [migrations])
        conn.commit()
        found = inspect(conn)
        assert [i["column_names"] for i in found.get_indexes("loyalty_lot_uses")] == [["lot_id"]]
        assert {fk["referred_table"] for fk in found.get_foreign_keys("loyalty_lot_uses")} == {
            "loyalty_ledger"}
        assert [c["name"] for c in found.get_check_constraints("loyalty_lot_uses")] == [
            "ck_loyalty_lot_uses_points_not_zero"]
    assert remaining(crm) == [0]                          # the expiry's use is kept
    shop.refund("C1", "P1", at(2025, 6, 15))
    assert (api.balance("C1"), api.owed("C1"), remaining(crm)) == (0, 0, [0])


def test_loyalty_0002_refuses_to_downgrade_a_ledger_holding_a_give_back(crm, loyalty, shop,
                                                                         clock):
    api = loyalty(SIX_MONTHS)
    shop.purchase("C1", "100", at(2024, 12, 31), external_id="P1")     # expires 2025-06-30
    clock.set(at(2025, 7, 2))
    api.expire(at(2025, 7, 1))
    shop.refund("C1", "P1", at(2025, 6, 15))             # gives the expiry back: a use of -100
    migrations = Path(crmkit_loyalty.__file__).parent / "migrations"

    def stored(conn):
        return (migrate.current_revisions(conn, "loyalty"),
                [c["name"] for c in inspect(conn).get_check_constraints("loyalty_lot_uses")],
                conn.execute(select(lot_uses).order_by(lot_uses.c.id)).all(),
                conn.execute(select(ledger).order_by(ledger.c.id)).all())

    with crm.connect() as conn:
        before = stored(conn)
    for target in ("loyalty@loyalty_0001", "loyalty@base"):
        with crm.connect(write=True) as conn:
            with pytest.raises(DatabaseError, match=(
                    r"^loyalty: cannot downgrade to loyalty_0001: the ledger holds 1 expiry "
                    r"give-back\(s\) \(.*negative lot use.*\) .*; nothing was changed$")):
                migrate.downgrade(conn, target, [migrations])
            conn.commit()
        with crm.connect() as conn:
            assert stored(conn) == before
    assert before[0] == {"loyalty_0002"} and -100 in [use.points for use in before[2]]
    assert (api.balance("C1"), api.owed("C1")) == (0, 0)
