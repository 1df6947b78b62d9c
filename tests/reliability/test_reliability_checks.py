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


def test_a_snapshot_sees_one_changed_cell(seeded_url):
    before = rel_db.snapshot(seeded_url)
    _break(seeded_url, "UPDATE customers SET phone = '+440000000000' WHERE external_id = 'C1'")
    after = rel_db.snapshot(seeded_url)
    assert [t for t in before if before[t] != after[t]] == ["customers"]
