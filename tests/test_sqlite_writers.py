"""One process's SQLite writers take turns on a lock (crmkit.db.WriterQueue), and threads never
wait for a pooled connection."""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

from crmkit import CRM, db
from crmkit.errors import DatabaseError


@contextlib.contextmanager
def held_by_another_thread(make_context):
    """Run the block while another thread is inside ``make_context()`` (it leaves after)."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        with make_context():
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    try:
        yield holder
    finally:
        release.set()
        holder.join()


def test_a_second_writer_of_the_process_waits_for_the_first_to_finish(tmp_path):
    queue = db.WriterQueue(db.create(f"sqlite:///{tmp_path / 'q.db'}"))
    order: list[str] = []

    def second():
        with queue.turn():
            order.append("second in")

    with held_by_another_thread(queue.turn):
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(0.2)
        assert waiting.is_alive()  # it waits for its turn however long the first one takes
        order.append("first out")
    waiting.join()
    assert order == ["first out", "second in"]


def test_a_writer_may_take_its_turn_again_inside_its_turn_and_postgresql_has_no_queue(tmp_path):
    queue = db.WriterQueue(db.create(f"sqlite:///{tmp_path / 'q.db'}"))
    with queue.turn(), queue.turn():
        pass
    postgres = db.WriterQueue(db.create("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    with postgres.turn():  # no lock, no connection
        pass


def test_threads_holding_more_connections_than_the_pool_keeps_never_wait(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    CRM.open(url, create=True).close()
    with CRM.open(url) as crm:
        held = []
        for _ in range(db.POOL_SIZE + 5):  # beyond the kept ones: opened, not awaited
            context = crm.read()
            held.append((context, context.__enter__()))
        assert all(conn.exec_driver_sql("SELECT 1").scalar() == 1 for _, conn in held)
        for context, _ in reversed(held):
            context.__exit__(None, None, None)
        with crm.transaction() as tx:  # a write beside nothing else still goes through
            assert tx.conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_an_in_memory_crm_keeps_one_connection_per_thread():
    with CRM.open("sqlite://", create=True) as crm:
        crm.customers.add("C1")
        assert crm.customers.count() == 1
    db.create("sqlite:///:memory:").dispose()  # SQLAlchemy's in-memory pool takes no overflow


def test_a_forked_child_is_not_kept_waiting_by_a_turn_its_parent_holds(tmp_path):
    queue = db.WriterQueue(db.create(f"sqlite:///{tmp_path / 'f.db'}"))
    with held_by_another_thread(queue.turn):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, where the holding thread is gone
            taken = queue._lock.acquire(timeout=5)
            os._exit(0 if taken else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_writer_kept_waiting_past_the_busy_timeout_gets_the_locked_error(tmp_path, monkeypatch):
    with CRM.open(f"sqlite:///{tmp_path / 't.db'}", create=True) as crm:
        with held_by_another_thread(crm.transaction):
            monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
            with pytest.raises(DatabaseError, match="locked by another writer.*try again"):
                crm.customers.add("C1")
        assert crm.customers.count() == 0
