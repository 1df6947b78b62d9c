"""Background WAL checkpoints (crmkit.wal): commits reach the database file without the writer."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading

from crmkit import CRM
from crmkit.wal import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES, Checkpointer


def _writer(path) -> sqlite3.Connection:
    """A WAL writer that never checkpoints itself, holding 500 committed rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
    return conn


def _rows_in_database_file(path, tmp_path) -> int | None:
    """Rows of ``t`` in the database file alone (its WAL left behind); None without the table."""
    copy = tmp_path / f"copy-{os.getpid()}.db"
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
        copy.unlink()


def test_a_requested_checkpoint_copies_committed_pages_into_the_database_file(tmp_path):
    path = tmp_path / "a.db"
    writer = _writer(path)
    assert _rows_in_database_file(path, tmp_path) is None
    checkpointer = Checkpointer(str(path))
    checkpointer.request()
    checkpointer.stop()
    assert _rows_in_database_file(path, tmp_path) == 500
    writer.close()


def test_a_forked_child_starts_its_own_checkpoint_thread(tmp_path):
    path = tmp_path / "a.db"
    checkpointer = Checkpointer(str(path))
    checkpointer.request()  # the parent's thread, which the child does not inherit
    writer = _writer(path)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        checkpointer.request()
        checkpointer.stop()
        os._exit(0 if _rows_in_database_file(path, tmp_path) == 500 else 1)
    _, status = os.waitpid(pid, 0)
    checkpointer.stop()
    writer.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_crm_on_a_file_checkpoints_in_the_background_and_stops_on_close(tmp_path):
    url = f"sqlite:///{tmp_path / 'stops-on-close.db'}"
    ours = "crmkit-wal-stops-on-close.db"
    with CRM.open(url, create=True) as crm:
        crm.customers.add("C1", "Ada")
        with crm.read() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar()
        assert (pages, limit) == (AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES)
        assert ours in {t.name for t in threading.enumerate()}
    assert ours not in {t.name for t in threading.enumerate()}


def test_a_relative_path_is_checkpointed_from_where_it_was_opened(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = _writer("rel.db")
    checkpointer = Checkpointer("rel.db")
    monkeypatch.chdir("/")
    checkpointer.request()
    checkpointer.stop()
    assert _rows_in_database_file(tmp_path / "rel.db", tmp_path) == 500
    writer.close()


def test_only_a_connection_that_changed_rows_asks_for_a_checkpoint(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(Checkpointer, "request", lambda self: asked.append(self.path))
    with CRM.open(f"sqlite:///{tmp_path / 'asks.db'}", create=True) as crm:
        crm.customers.add("C1", "Ada")
        after_write = len(asked)
        assert after_write >= 1
        for _ in range(5):
            assert crm.customers.get("C1").name == "Ada"
        assert len(asked) == after_write  # reads leave nothing to checkpoint
        crm.customers.add("C2", "Bob")
        assert len(asked) > after_write
