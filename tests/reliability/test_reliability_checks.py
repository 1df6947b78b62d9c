"""The suite's own checks can fail: each detects the breakage it exists to detect.

Every guarantee test ends in :func:`rel_db.integrity_problems` or
:func:`rel_db.snapshot`; here a database is broken on purpose behind
crmkit's back (a half-applied batch, a lost update, an overspent lot, an
orphan row, a changed cell) and each check must name the breakage.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

import rel_db
import rel_support


def _break(url: str, *statements: str) -> None:
    """Run ``statements`` with foreign keys and triggers off, as a corrupting tool would."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("sqlite:///", 1)[1])  # foreign keys are off by default
        try:
            for sql in statements:
                conn.execute(sql)
            conn.commit()
        finally:
            conn.close()
        return
    eng = rel_db.engine(url)
    try:
        with eng.connect() as conn:
            conn.exec_driver_sql("SET session_replication_role = replica")
            for sql in statements:
                conn.execute(text(sql))
            conn.commit()
    finally:
        eng.dispose()


def test_a_clean_seeded_database_has_no_problems(seeded_url, seed_failures):
    assert seed_failures == {}, f"built-in plugins that could not be enabled: {seed_failures}"
    assert rel_db.integrity_problems(seeded_url) == []


@pytest.mark.parametrize("breakage, statements, expected", [
    ("half-applied batch", ["DELETE FROM relcheck_reacts"],
     "interaction(s) without their react row"),
    ("lost counter update", ["UPDATE relcheck_counts SET reacts = reacts + 1"],
     "relcheck counter of customer"),
    ("orphan row", ["INSERT INTO relcheck_counts (customer_id, reacts) VALUES (999999, 0)"],
     "relcheck_counts.customer_id -> customers: 1 orphan row(s)"),
])
def test_integrity_problems_names_each_breakage(seeded_url, breakage, statements, expected):
    _break(seeded_url, *statements)
    problems = rel_db.integrity_problems(seeded_url)
    assert any(expected in p for p in problems), (breakage, problems)


def test_integrity_problems_sees_a_broken_loyalty_ledger(seeded_url):
    if "loyalty" not in rel_support.existing_builtins():
        pytest.fail("the loyalty plugin does not exist in this tree")
    assert rel_db.count(seeded_url, "SELECT count(*) FROM loyalty_members") == 1
    _break(seeded_url, "UPDATE loyalty_members SET purchases = purchases + 1, owed = owed + 5",
           "UPDATE loyalty_ledger SET points = -1000")
    problems = "\n".join(rel_db.integrity_problems(seeded_url))
    assert "(lost update)" in problems
    assert "loyalty owed of customer" in problems
    assert "(< 0)" in problems


def _row(offset: int, at: str, type_: str, points: str, owed: str = "0",
         source: str = "test") -> str:
    """SQL: a ledger row ``{lot} + offset`` of the seeded lot's member dated at that lot's
    column ``at`` (``{lot}``, ``{points}``: the seeded lot's id and points, filled in later)."""
    return ("INSERT INTO loyalty_ledger (id, customer_id, at, type, points, owed_change, "
            f"source, reason, recorded_at, actor) SELECT {{lot}} + {offset}, customer_id, {at}, "
            f"'{type_}', {points}, {owed}, '{source}', 'a broken row', recorded_at, actor "
            "FROM loyalty_ledger WHERE id = {lot}")


def _use(debit: int, lot: int, points: str) -> str:
    """SQL: the row ``{lot} + debit`` takes ``points`` of the lot ``{lot} + lot``."""
    return ("INSERT INTO loyalty_lot_uses (ledger_id, lot_id, points) "
            f"VALUES ({{lot}} + {debit}, {{lot}} + {lot}, {points})")


LATER_LOT = _row(1000, "expires_at", "earn", "{points}", source="purchase")
"""A second lot as big as the seeded one, dated at its expiry (a year later)."""


@pytest.mark.parametrize("breakage, statements, expected, not_expected", [
    ("a debit dated before the lot it consumed, the balance never negative",
     [LATER_LOT, _row(1001, "at", "spend", "-{points}"), _use(1001, 1000, "{points}")],
     "before it was earned", "(< 0)"),
    ("a debit taking a later lot too: the balance negative on its date, 0 today",
     [LATER_LOT, _row(1001, "at", "spend", "-2 * {points}"), _use(1001, 0, "{points}"),
      _use(1001, 1000, "{points}")],
     "(< 0)", None),
    ("a give-back of nothing: the balance above the points earned",
     [_row(1001, "at", "expire", "{points}", source="expiry")],
     "more than the", None),
    ("a pay-off dated before the debt it pays",
     [_row(1001, "at", "reverse", "-1", "-1", "owed"), _use(1001, 0, "1"),
      _row(1002, "expires_at", "reverse", "0", "1", "refund")],
     "loyalty points owed by customer", None),
])
def test_integrity_problems_replay_the_loyalty_ledger_in_date_order(seeded_url, breakage,
                                                                    statements, expected,
                                                                    not_expected):
    """Ledgers whose sums today are sound, but not as of an earlier date: each is named."""
    if "loyalty" not in rel_support.existing_builtins():
        pytest.fail("the loyalty plugin does not exist in this tree")
    lot, points = (rel_db.count(seeded_url, f"SELECT {column} FROM loyalty_ledger")
                   for column in ("id", "points"))
    _break(seeded_url, *(sql.format(lot=lot, points=points) for sql in statements))
    problems = "\n".join(rel_db.integrity_problems(seeded_url))
    assert expected in problems, (breakage, problems)
    assert not_expected is None or not_expected not in problems, (breakage, problems)


def test_a_snapshot_sees_one_changed_cell(seeded_url):
    before = rel_db.snapshot(seeded_url)
    _break(seeded_url, "UPDATE customers SET phone = '+440000000000' WHERE external_id = 'C1'")
    after = rel_db.snapshot(seeded_url)
    assert [t for t in before if before[t] != after[t]] == ["customers"]
