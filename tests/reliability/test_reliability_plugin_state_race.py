"""Enabling a plugin while purchases are being written (PostgreSQL, whose writers run at once).

A write transaction shares ``crmkit.app.STATE_LOCK`` before it reads which plugins are
enabled; enabling, disabling or configuring one takes it exclusively.  So an enable waits for
the writes in flight (which read the plugin disabled, and commit unseen by it), and a write
that starts during an enable waits for it and then reaches the plugin.  Staged in threads of
one process, each side held inside its transaction by an event, never with sleeps; SQLite
admits one writer at a time, so it orders the two the same way by itself.  On both, a write
transaction keeps the plugins' state it read even when another thread of the process reads an
older one meanwhile.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

import rel_support
from crmkit import CRM, app
from crmkit.errors import DatabaseError
from crmkit_loyalty.tables import ledger

HANG_GUARD_S = rel_support.HANG_GUARD_S

def purchase(crm, clock, external_id: str):
    return crm.interactions.record("C1", clock.now(), kind="purchase", amount="40",
                                   external_id=external_id)


def earned(crm) -> list[int]:
    """The interactions the loyalty ledger has earn rows for."""
    with crm.read() as conn:
        return list(conn.execute(select(ledger.c.interaction_id).where(ledger.c.type == "earn")
                                 .order_by(ledger.c.id)).scalars())


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_an_enable_waits_for_a_write_that_read_the_plugin_disabled(crm, crm_url, clock):
    """A purchase's transaction has read the plugins' state (loyalty disabled) when an enable
    starts: the enable waits until the purchase commits, so the purchase is stored before
    loyalty was enabled, which rightly never saw it; the next purchase earns."""
    crm.customers.add("C1")
    with CRM.open(crm_url, clock=clock) as admin:
        with crm.transaction():  # has read the plugins' state: loyalty disabled
            enabling = rel_support.Outcome(lambda: admin.plugins.enable("loyalty"))
            enabling.start()
            rel_support.wait_until_blocked(crm_url, unless=enabling)
            assert enabling.is_alive(), "the enable did not wait for the write in flight"
            purchase(crm, clock, "P1")
        assert enabling.finish().error is None, enabling.error
        second = purchase(crm, clock, "P2")
        assert "loyalty" in crm.enabled_plugins()
        assert earned(crm) == [second.id]


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_a_write_that_starts_during_an_enable_waits_and_reaches_the_plugin(crm, crm_url,
                                                                           clock):
    """While an enable is in its transaction (joined by the admin's own, held open), a
    purchase started meanwhile waits for it to commit and then earns points; reads do not
    wait."""
    crm.customers.add("C1")
    enabled, release = threading.Event(), threading.Event()

    with CRM.open(crm_url, clock=clock) as admin:
        def enable_and_hold():
            with admin.transaction():
                admin.plugins.enable("loyalty")
                enabled.set()
                assert release.wait(HANG_GUARD_S), "the test never let the enable commit"

        enabling = rel_support.Outcome(enable_and_hold)
        enabling.start()
        try:
            assert enabled.wait(HANG_GUARD_S), "the enable never reached its transaction"
            buying = rel_support.Outcome(lambda: purchase(crm, clock, "P1"))
            buying.start()
            rel_support.wait_until_blocked(crm_url, unless=buying)
            assert buying.is_alive(), "the purchase did not wait for the enable in flight"
            assert crm.customers.get("C1").external_id == "C1"  # a read does not wait
        finally:
            release.set()
        assert enabling.finish().error is None, enabling.error
        assert buying.finish().error is None, buying.error
    assert earned(crm) == [buying.result.id]


def test_a_write_keeps_the_state_it_read_while_another_thread_reads_an_older_one(
        crm, crm_url, clock):
    """Threads of one process (a server's) share a CRM.  A request whose snapshot was taken
    before loyalty was enabled reads the plugins' state again while a purchase's transaction,
    opened after the enable, is running: the purchase still reaches loyalty, with the state
    its own transaction read."""
    crm.customers.add("C1")
    looked, look_again, done = threading.Event(), threading.Event(), threading.Event()

    def older_request():
        with crm.snapshot(), crm.read() as conn:
            crm.refresh_plugins(conn)  # the snapshot's first read: loyalty disabled
            looked.set()
            assert look_again.wait(HANG_GUARD_S), "the test never let the request go on"
            crm.refresh_plugins(conn)
        done.set()

    request = rel_support.Outcome(older_request)
    request.start()
    try:
        assert looked.wait(HANG_GUARD_S), "the request never read"
        with CRM.open(crm_url, clock=clock) as admin:
            admin.plugins.enable("loyalty")
        with crm.transaction():
            look_again.set()
            assert done.wait(HANG_GUARD_S), "the request never read again"
            bought = purchase(crm, clock, "P1")
    finally:
        look_again.set()
    assert request.finish().error is None, request.error
    assert earned(crm) == [bought.id]


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_an_enable_gives_up_on_a_write_that_runs_longer_than_it_waits(crm, crm_url, clock,
                                                                       monkeypatch):
    """A long write (an import) holds its transaction past ``STATE_CHANGE_WAIT_S``: the enable
    is refused, changing nothing, and the write goes on and commits."""
    monkeypatch.setattr(app, "STATE_CHANGE_WAIT_S", 0.2)
    crm.customers.add("C1")
    with CRM.open(crm_url, clock=clock) as admin:
        with crm.transaction():  # the import's transaction, still running
            with pytest.raises(DatabaseError, match=(
                    r": other writes \(an import\?\) kept running for more than 0\.2 s, which "
                    r"a change of the plugins or of the core config waits for; nothing was "
                    r"changed: try again once they are done$")):
                admin.plugins.enable("loyalty")
            bought = purchase(crm, clock, "P1")
    assert not {p.name: p.enabled for p in crm.plugins.list()}["loyalty"]
    assert crm.interactions.get(bought.id).external_id == "P1"
