"""One process's SQLite writers take turns on a lock (crmkit.db.WriterQueue), and threads never
wait for a pooled connection."""

from __future__ import annotations

import threading

from crmkit import CRM, db


def test_a_second_writer_of_the_process_waits_for_the_first_to_finish(tmp_path):
    queue = db.WriterQueue(db.create(f"sqlite:///{tmp_path / 'q.db'}"))
    order: list[str] = []
    first_inside, first_may_leave = threading.Event(), threading.Event()

    def first():
        with queue.turn():
            order.append("first in")
            first_inside.set()
            first_may_leave.wait()
            order.append("first out")

    def second():
        first_inside.wait()
        with queue.turn():
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_inside.wait()
    threads[1].join(0.2)
    assert threads[1].is_alive()  # it waits for its turn however long the first one takes
    first_may_leave.set()
    for thread in threads:
        thread.join()
    assert order == ["first in", "first out", "second in"]


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
        for _ in range(db.SQLITE_POOL_SIZE + 5):  # beyond the kept ones: opened, not awaited
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
    import os

    queue = db.WriterQueue(db.create(f"sqlite:///{tmp_path / 'f.db'}"))
    holding, release = threading.Event(), threading.Event()

    def hold():
        with queue.turn():
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, where the holding thread is gone
        taken = queue._lock.acquire(timeout=5)
        os._exit(0 if taken else 1)
    _, status = os.waitpid(pid, 0)
    release.set()
    holder.join()
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_writer_kept_waiting_past_the_busy_timeout_gets_the_locked_error(tmp_path, monkeypatch):
    import pytest

    from crmkit.errors import DatabaseError

    url = f"sqlite:///{tmp_path / 't.db'}"
    with CRM.open(url, create=True) as crm:
        holding, release = threading.Event(), threading.Event()

        def hold():
            with crm.transaction():
                holding.set()
                release.wait()

        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait()
        monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
        try:
            with pytest.raises(DatabaseError, match="locked by another writer.*try again"):
                crm.customers.add("C1")
        finally:
            release.set()
            holder.join()
        assert crm.customers.count() == 0
