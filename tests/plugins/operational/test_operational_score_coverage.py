"""The scoring hits' coverage row: a write only reads it, so concurrent writers never wait on it,
and the first batches after an enable, however concurrent, forget the hits and rebuild them."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from crmkit_operational.hits import fingerprint
from crmkit_operational.tables import score_coverage
from test_operational_score_hits import CONFIG, RULES, assert_hits_are_the_capped_matches, expected

GUARD_S = 60
"""How long a test waits for a writer that should finish or block: a hang guard, not a timing."""


def visit(clock, customer: str, n: int) -> dict:
    return {"customer": customer, "kind": "visit", "channel": "web", "n": n,
            "occurred_at": clock.now()}


def record(crm, row: dict) -> None:
    crm.interactions.record(row["customer"], row["occurred_at"], kind=row["kind"],
                            channel=row["channel"])


def assert_scored(crm, clock, api, rules, rows, customers) -> None:
    """Stored and computed scores are the definition's; every stored hit set is exact."""
    for c in customers:
        want = expected(rules, [r for r in rows if r["customer"] == c], clock.now())
        assert api.lead(c)["score"] == api.score(c) == want, c
    assert_hits_are_the_capped_matches(crm, api.settings.scoring.rules, customers)


class Running(threading.Thread):
    """Runs ``call`` in a thread, keeping the error it raised."""

    def __init__(self, call):
        super().__init__(daemon=True)
        self.call, self.error = call, None

    def run(self) -> None:
        try:
            self.call()
        except Exception as exc:  # the assertions show it
            self.error = exc

    def finished(self) -> bool:
        """Whether it ended (within the guard) without an error; raises that error."""
        self.join(GUARD_S)
        if self.error is not None:
            raise self.error
        return not self.is_alive()


def test_a_write_only_reads_the_coverage_row(crm, clock, operational, statements):
    api = operational(CONFIG)
    crm.customers.add_many([{"external_id": c} for c in ("A", "B")])
    rows = [visit(clock, "A", 0)]
    record(crm, rows[0])  # the first batch after the enable writes the row
    with statements(crm.engine, score_coverage.name) as seen:
        for n, customer in enumerate("BAB", start=1):
            rows.append(visit(clock, customer, n))
            record(crm, rows[-1])
        more = [visit(clock, c, n) for n, c in enumerate("AB", start=4)]
        crm.interactions.record_many([{k: v for k, v in r.items() if k != "n"} for r in more])
    assert seen and all(s.lstrip().startswith("SELECT") for s in seen), seen
    assert_scored(crm, clock, api, RULES, rows + more, ["A", "B"])


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_concurrent_writers_do_not_wait_for_each_other(crm, clock, operational):
    """A write transaction kept open does not hold up another customer's write."""
    api = operational(CONFIG)
    crm.customers.add_many([{"external_id": c} for c in ("A", "B")])
    rows = [visit(clock, "A", 0), visit(clock, "B", 1), visit(clock, "A", 2)]
    record(crm, rows[0])
    other = Running(lambda: record(crm, rows[1]))
    with crm.transaction():
        record(crm, rows[2])
        other.start()
        finished_first = other.finished()
    other.join()  # (once the first committed, when it waited)
    assert finished_first, "the second writer waited for the first one's commit"
    assert_scored(crm, clock, api, RULES, rows, ["A", "B"])


def wait_until_blocked(crm, writer: Running, sessions: int = 1) -> None:
    """Wait until ``sessions`` sessions of ``crm``'s database wait for a lock, or ``writer``
    finished.

    PostgreSQL shows a transaction the sessions' activity as it was when the transaction
    first read it, so each look is a transaction of its own."""
    deadline = time.monotonic() + GUARD_S
    with crm.connect() as conn:
        while writer.is_alive():
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar()
            conn.rollback()
            if waiting >= sessions:
                return
            assert time.monotonic() < deadline, "the second writer never waited for the first"


def configure(crm, rules) -> None:
    crm.plugins.configure("operational", dict(CONFIG, scoring=dict(CONFIG["scoring"], rules=rules)))


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("change_rules", [False, True], ids=["same rules", "rules changed"])
def test_concurrent_first_batches_after_an_enable_both_forget(crm, clock, operational,
                                                              change_rules):
    """Customers and interactions recorded before operational was enabled (no lead, no
    coverage row yet); the first two batches after the enable run at once, the second
    perhaps under rules changed by a configure started while the first was open (the
    configure waits for the first batch, the second batch for the configure).  The second
    finds the row out of date as well; its rewrite waits for the first to commit, and its
    forgetting then forgets the hits the first stored: every score counts the interactions
    recorded before, under the rules of the last batch."""
    crm.customers.add_many([{"external_id": c} for c in ("A", "B")])
    rows = [visit(clock, c, n) for n, c in enumerate("ABAB")]
    for row in rows:
        record(crm, row)
    api = operational(CONFIG)
    rules = [dict(RULES[0], cap=1), RULES[2]] if change_rules else RULES
    rows += [visit(clock, "A", 4), visit(clock, "B", 5)]
    other = Running(lambda: record(crm, rows[5]))
    with crm.transaction():
        record(crm, rows[4])
        if change_rules:
            changing = Running(lambda: configure(crm, rules))
            changing.start()
            wait_until_blocked(crm, changing)
            assert changing.is_alive(), "the rules changed while a batch scored with them"
        other.start()
        wait_until_blocked(crm, other, sessions=1 + change_rules)
    assert other.finished()
    assert not change_rules or changing.finished()
    assert_scored(crm, clock, api, rules, rows, ["A", "B"])
    with crm.read() as conn:  # enabled once
        assert conn.execute(score_coverage.select()).all() == [(1, fingerprint(
            api.settings.scoring.rules), 1)]


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_a_configure_waits_for_the_batch_in_flight_and_later_ones_score_with_its_rules(
        crm, clock, operational):
    """A configure started while a batch is open (it read the rules as it opened) waits for
    that batch to commit, so the batch's score is that of the rules current while it was
    written; a batch started while a configure is held open (joined by an admin's own
    transaction) waits for it and scores with the new rules."""
    api = operational(CONFIG)
    crm.customers.add_many([{"external_id": c} for c in ("A", "B")])
    rows = [visit(clock, "A", 0)]
    record(crm, rows[0])
    changing = Running(lambda: configure(crm, [dict(RULES[0], cap=1), RULES[2]]))
    with crm.transaction():
        rows.append(visit(clock, "A", 1))
        record(crm, rows[-1])
        changing.start()
        wait_until_blocked(crm, changing)
        assert changing.is_alive(), "the configure did not wait for the batch in flight"
    assert changing.finished()
    assert api.lead("A")["score"] == expected(RULES, rows, clock.now())

    rules = [RULES[0], dict(RULES[2], weight=3)]
    configured, release = threading.Event(), threading.Event()

    def configure_and_hold() -> None:
        with crm.transaction():
            configure(crm, rules)
            configured.set()
            assert release.wait(GUARD_S), "the test never let the configure commit"

    holding = Running(configure_and_hold)
    holding.start()
    rows.append(visit(clock, "B", 2))
    later = Running(lambda: record(crm, rows[-1]))
    try:
        assert configured.wait(GUARD_S), "the configure never reached its transaction"
        later.start()
        wait_until_blocked(crm, later)
        assert later.is_alive(), "a batch did not wait for the configure in flight"
    finally:
        release.set()
    assert holding.finished() and later.finished()
    assert_scored(crm, clock, api, rules, rows, ["A", "B"])
