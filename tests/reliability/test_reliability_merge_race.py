"""Merging a customer while other commands write to it, from threads of one process.

A merge locks both customers (in id order) before it touches anything; every writer of a
customer's rows (recording interactions, loyalty adjust and redeem) share-locks the
customer first.  So a writer that starts while a merge runs waits for it and is then told
which customer its customer was merged into, and a merge that starts while a writer runs
waits for it and then moves what it wrote.  Each race is staged with a gate (a statement
or a hook that blocks until the test opens it) and events, never with sleeps; timeouts
only guard against hangs.  On SQLite the database's write lock serialises the same
commands; the outcomes must be the same.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
from sqlalchemy import event, text

import rel_db
import rel_support
from crmkit.errors import ConflictError

HANG_GUARD_S = rel_support.HANG_GUARD_S
LOYALTY = {"points_per_unit": 1, "milestones": [], "expiry_mode": "none",
           "tiers": [{"name": "member", "threshold": 0, "multiplier": 1}]}
"""One point per unit of a purchase, nothing else: balances are easy to predict."""


def build_race(url: str, clock) -> None:
    """Every built-in enabled (loyalty as :data:`LOYALTY`), relfaulty enabled, customers C1
    and C2 with one purchase of 100 (100 points) each, and the reward MUG (50 points)."""
    with rel_support.open_crm(url, clock) as crm:
        assert rel_support.enable_everything(crm, {"loyalty": LOYALTY}) == {}
        crm.plugins.enable("relfaulty")
        for c in ("C1", "C2"):
            crm.customers.add(c, f"Customer {c}")
            crm.interactions.record(c, clock.now() - dt.timedelta(days=1), amount="100",
                                    external_id=f"P-{c}")
        crm.plugin("loyalty").add_reward("MUG", 50, stock=10, name="Mug")


@pytest.fixture
def race_url(crm_url, clock, request, _templates):
    """A fresh copy of the :func:`build_race` database on ``crm_url``'s backend."""
    return rel_support.copy_of_template("merge_race", lambda url: build_race(url, clock),
                                        crm_url, request, _templates)


class StatementGate:
    """Blocks the first statement of ``crm`` matching ``pattern`` until :attr:`opened` is set
    (before it runs, or with ``after`` once it ran)."""

    def __init__(self, crm, pattern: str, after: bool = False):
        self.reached, self.opened = threading.Event(), threading.Event()
        self._pattern = re.compile(pattern)
        self._fired = False
        event.listen(crm.engine, "after_cursor_execute" if after else "before_cursor_execute",
                     self._before)

    def _before(self, conn, cursor, statement, *args):
        if not self._fired and self._pattern.search(statement):
            self._fired = True
            self.reached.set()
            assert self.opened.wait(HANG_GUARD_S), "the gate was never opened"


def on_customer(url: str, external_id: str, table: str = "interactions") -> int:
    return rel_db.count(url, f"SELECT count(*) FROM {table} t JOIN customers c "
                             "ON c.id = t.customer_id WHERE c.external_id = :c", {"c": external_id})


def ledger_sum(url: str, external_id: str) -> int:
    return rel_db.count(url, "SELECT coalesce(sum(l.points), 0) FROM loyalty_ledger l JOIN "
                             "customers c ON c.id = l.customer_id WHERE c.external_id = :c",
                        {"c": external_id})


def assert_merged_cleanly(url: str) -> None:
    assert rel_db.count(url, "SELECT count(*) FROM customers WHERE external_id = 'C2'") == 0
    assert rel_db.integrity_problems(url) == []  # no orphan, caches = ledger, balance >= 0


def merge_paused_before_it_commits(url, clock):
    """A merge of C2 into C1 that has moved every row and waits at its last move."""
    crm = rel_support.open_crm(url, clock, create=False)
    gate = StatementGate(crm, r"^UPDATE events SET customer_id")
    merge = rel_support.Outcome(lambda: crm.customers.merge("C1", "C2"))
    merge.start()
    assert gate.reached.wait(HANG_GUARD_S), "the merge never reached its gate"
    return crm, gate, merge


@pytest.mark.parametrize("command", ["record", "adjust", "redeem"])
def test_a_writer_that_starts_during_a_merge_waits_and_names_the_merge(race_url, clock,
                                                                        command):
    merging, gate, merge = merge_paused_before_it_commits(race_url, clock)
    with merging, rel_support.open_crm(race_url, clock, create=False) as crm:
        write = rel_support.Outcome({
            "record": lambda: crm.interactions.record("C2", clock.now(), amount="5",
                                                      external_id="LATE"),
            "adjust": lambda: crm.plugin("loyalty").adjust("C2", -50, "goodwill"),
            "redeem": lambda: crm.plugin("loyalty").redeem("C2", "MUG"),
        }[command])
        write.start()
        rel_support.wait_until_blocked(race_url)
        gate.opened.set()
        assert merge.finish().error is None, merge.error
        assert write.finish().error is not None and "UNPLANNED" not in write.error
    assert "'C2' was merged into 'C1' at 2025-01-01 12:00 UTC" in write.error, write.error
    assert_merged_cleanly(race_url)
    assert on_customer(race_url, "C1") == 2
    assert ledger_sum(race_url, "C1") == 200  # both purchases' points, nothing spent
    assert rel_db.count(race_url, "SELECT stock FROM loyalty_rewards") == 10


def test_a_merge_that_starts_during_a_record_waits_and_moves_it(race_url, clock):
    import crmkit_relfaulty

    with rel_support.open_crm(race_url, clock, create=False) as crm:
        crm.plugins.configure("relfaulty", {"gate": True})
    crmkit_relfaulty.GATE.clear()
    crmkit_relfaulty.ENTERED.clear()
    with rel_support.open_crm(race_url, clock, create=False) as recording, \
            rel_support.open_crm(race_url, clock, create=False) as merging:
        record = rel_support.Outcome(lambda: recording.interactions.record(
            "C2", clock.now(), amount="5", external_id="DURING"))
        record.start()
        assert crmkit_relfaulty.ENTERED.wait(HANG_GUARD_S), "the record never reached its react"
        merge = rel_support.Outcome(lambda: merging.customers.merge("C1", "C2"))
        merge.start()
        rel_support.wait_until_blocked(race_url)
        crmkit_relfaulty.GATE.set()
        assert record.finish().error is None, record.error
        assert merge.finish().error is None, merge.error
    assert_merged_cleanly(race_url)
    assert on_customer(race_url, "C1") == 3
    assert rel_db.count(race_url, "SELECT c.external_id FROM interactions i JOIN customers c "
                                  "ON c.id = i.customer_id WHERE i.external_id = 'DURING'") == "C1"
    assert ledger_sum(race_url, "C1") == 205


@pytest.mark.parametrize("points", [30, -50])
def test_a_merge_that_starts_during_a_loyalty_adjustment_waits_and_moves_it(race_url, clock,
                                                                            points):
    with rel_support.open_crm(race_url, clock, create=False) as adjusting, \
            rel_support.open_crm(race_url, clock, create=False) as merging:
        gate = StatementGate(adjusting, r"^INSERT INTO loyalty_ledger")
        adjust = rel_support.Outcome(lambda: adjusting.plugin("loyalty").adjust("C2", points, "goodwill"))
        adjust.start()
        assert gate.reached.wait(HANG_GUARD_S), "the adjustment never reached its gate"
        merge = rel_support.Outcome(lambda: merging.customers.merge("C1", "C2"))
        merge.start()
        rel_support.wait_until_blocked(race_url)
        gate.opened.set()
        assert adjust.finish().error is None, adjust.error
        assert merge.finish().error is None, merge.error
    assert_merged_cleanly(race_url)
    assert ledger_sum(race_url, "C1") == 200 + points
    with rel_support.open_crm(race_url, clock, create=False) as crm:
        assert crm.plugin("loyalty").balance("C1") == 200 + points


def test_many_writers_and_a_merge_released_together_end_consistent(race_url, clock):
    """Recorders, adjusters and redeemers of both customers and one merge start at one
    barrier: whatever the interleaving, every stored interaction is on C1, the balance is
    the ledger's sum and never negative, and a refused writer names the merge."""
    barrier = threading.Barrier(7)
    crms = [rel_support.open_crm(race_url, clock, create=False) for _ in range(7)]

    def after_barrier(call):
        def run():
            barrier.wait(HANG_GUARD_S)
            return call()
        return run

    calls = [lambda: crms[0].customers.merge("C1", "C2")]
    for n, c in enumerate(("C2", "C1", "C2")):
        calls.append(lambda n=n, c=c: [crms[1 + n].interactions.record(
            c, clock.now(), amount="1", external_id=f"R{n}-{k}") for k in range(5)])
    calls.append(lambda: crms[4].plugin("loyalty").adjust("C2", -60, "goodwill"))
    calls.append(lambda: crms[5].plugin("loyalty").redeem("C2", "MUG"))
    calls.append(lambda: crms[6].plugin("loyalty").adjust("C1", 7, "goodwill"))
    outcomes = [rel_support.Outcome(after_barrier(call)) for call in calls]
    try:
        for o in outcomes:
            o.start()
        for o in outcomes:
            o.finish()
    finally:
        for crm in crms:
            crm.close()
    assert outcomes[0].error is None, outcomes[0].error
    for o in outcomes[1:]:  # C2 may lack points for both the deduction and the mug
        assert o.error is None or "'C2' was merged into 'C1'" in o.error \
            or o.error.startswith("NotEnoughPoints: customer 'C2' has"), o.error
    assert_merged_cleanly(race_url)
    stored = rel_db.count(race_url, "SELECT count(*) FROM interactions")
    assert on_customer(race_url, "C1") == stored
    spent = 60 * (outcomes[4].error is None) + 50 * (outcomes[5].error is None)
    recorded = rel_db.count(race_url, "SELECT count(*) FROM interactions "
                                      "WHERE external_id LIKE 'R%'")
    assert ledger_sum(race_url, "C1") == 200 + recorded + 7 - spent


def test_a_transaction_aborted_by_a_deadlock_runs_again(race_url, clock):
    """Two transactions that lock two rows in opposite orders deadlock on PostgreSQL; the
    runner runs the aborted one again (at most 3 runs each), and both end up done once.  On SQLite the write lock
    serialises them: each runs once."""
    barrier = threading.Barrier(2)
    runs = []

    def work(first, second):
        def run(tx):
            runs.append(first)
            for n, c in enumerate((first, second)):
                tx.conn.execute(text("UPDATE customers SET name = name || '+' "
                                     "WHERE external_id = :c"), {"c": c})
                if n == 0 and runs.count(first) == 1 and not race_url.startswith("sqlite"):
                    barrier.wait(HANG_GUARD_S)  # both hold their first row: a deadlock follows
        return run

    with rel_support.open_crm(race_url, clock, create=False) as a, \
            rel_support.open_crm(race_url, clock, create=False) as b:
        both = [rel_support.Outcome(lambda: a.run_transaction(work("C1", "C2"))),
                rel_support.Outcome(lambda: b.run_transaction(work("C2", "C1")))]
        for o in both:
            o.start()
        for o in both:
            assert o.finish().error is None, o.error
    if race_url.startswith("sqlite"):
        assert len(runs) == 2
    else:  # at least the deadlock's victim ran again (its retry may meet the other again)
        assert 3 <= len(runs) and max(runs.count("C1"), runs.count("C2")) <= 3, runs
    assert rel_db.count(race_url, "SELECT name FROM customers WHERE external_id = 'C1'") \
        == "Customer C1++"


def test_a_transaction_aborted_every_time_gives_up_with_the_cause(race_url, clock):
    import psycopg

    runs = []

    def always_aborted(tx):
        runs.append(1)
        tx.audit("test", "customers", "C1", {})
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    with rel_support.open_crm(race_url, clock, create=False) as crm:
        before = rel_db.count(race_url, "SELECT count(*) FROM audit_log")
        with pytest.raises(ConflictError, match=r"another command changed the same rows at "
                           r"the same time \(deadlock detected\); nothing of this command was "
                           r"written: run it again \(aborted 3 times in a row\)"):
            crm.run_transaction(always_aborted)
    assert len(runs) == 3
    assert rel_db.count(race_url, "SELECT count(*) FROM audit_log") == before


def test_two_first_assignments_to_a_team_take_turns(race_url, clock):
    """The operational plugin's assignment cursor of a team is created by the first
    assignment: two of them at once both created it (a raw UniqueViolation on PostgreSQL)
    and both picked the same person.  The row is now created and locked first."""
    with rel_support.open_crm(race_url, clock, create=False) as crm:
        for handle in ("ann", "bob"):
            crm.staff.add(handle, handle.title(), "support")
        ids = [crm.customers.get(c).id for c in ("C1", "C2")]
    with rel_support.open_crm(race_url, clock, create=False) as first, \
            rel_support.open_crm(race_url, clock, create=False) as second:
        gate = StatementGate(first, r"FROM operational_cursors", after=True)
        one = rel_support.Outcome(lambda: first.plugin("operational").assign_to_team("support", ids[0], "x"))
        one.start()
        assert gate.reached.wait(HANG_GUARD_S), "the first assignment never read the cursor"
        two = rel_support.Outcome(lambda: second.plugin("operational").assign_to_team("support", ids[1],
                                                                          "y"))
        two.start()
        deadline = time.monotonic() + HANG_GUARD_S
        while two.is_alive() and not race_url.startswith("sqlite"):
            if rel_db.count(race_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                      "current_database() AND wait_event_type = 'Lock'"):
                break  # the second waits for the first: the fixed behaviour
            assert time.monotonic() < deadline, "the second assignment neither ran nor waited"
            time.sleep(0.01)  # polling a condition, not waiting for time to pass
        gate.opened.set()
        one.finish()
        two.finish()
    assert (one.error, two.error) == (None, None)
    assert sorted([one.result, two.result]) == ["ann", "bob"]
