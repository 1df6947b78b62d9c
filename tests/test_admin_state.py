"""Admin state that can be trusted: schema status, plugin state, the database a command opens."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import text

from crmkit import db


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def test_db_status_shows_each_branchs_own_current_and_head_revision(run_cli):
    run_cli("init")
    assert run_cli("plugins", "enable", "loyalty")[0] == 0
    code, out, err = run_cli("db", "status", "--format", "json")
    assert code == 0, err
    rows = {r["branch"]: r for r in json.loads(out)}
    assert set(rows) == {"core", "loyalty"}
    assert rows["core"]["current"] == rows["core"]["head"] and rows["core"]["current"].startswith("core_")
    loyalty = rows["loyalty"]
    assert loyalty["current"].startswith("loyalty_") and loyalty["current"] == loyalty["head"]
    assert loyalty["pending"] == "none"


def test_a_mistyped_sqlite_path_is_refused_and_no_file_is_created(tmp_path, run_cli):
    typo = tmp_path / "crm-typo.db"
    for args in (["customers", "list"], ["plugins", "enable", "loyalty"], ["db", "upgrade"]):
        code, out, err = run_cli("--db", f"sqlite:///{typo}", *args)
        assert code != 0 and err == f"error: no crmkit database at {typo}; run `crmkit init` " \
                                    "first (or check --db)\n"
    code, out, _ = run_cli("--db", f"sqlite:///{typo}", "db", "status")
    assert code == 0 and "crmkit init" in out
    assert not typo.exists()


def test_a_file_that_is_not_a_database_is_one_clear_line(tmp_path, run_cli):
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n" * 200)
    for args in (["init"], ["customers", "list"], ["demo", "--customers", "50"]):
        code, _, err = run_cli("--db", f"sqlite:///{notes}", *args)
        assert code != 0
        assert err == f"error: sqlite:///{notes} is not a SQLite database file (check --db)\n"
    assert notes.read_text() == "shopping list\n" * 200


def test_init_refuses_a_non_empty_database_that_is_not_crmkits(crm_url, run_cli):
    engine = db.create(crm_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)"))
        conn.execute(text("INSERT INTO invoices VALUES (1, 100)"))
    try:
        code, _, err = run_cli("init")
        assert code != 0 and err.count("\n") == 1
        assert "is not empty and is not a crmkit database (it has 1 other table: invoices)" in err
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'" if conn.dialect.name == "sqlite"
                else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        assert tables == ["invoices"]
    finally:
        engine.dispose()


def test_init_on_an_empty_or_crmkit_database_still_works(crm_url, run_cli):
    assert run_cli("init")[0] == 0
    assert run_cli("init")[0] == 0
    path = _sqlite_path(crm_url)
    if path is not None:
        assert sqlite3.connect(path).execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'customers'").fetchone() == (1,)
