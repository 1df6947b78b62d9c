"""A change of the core configuration while a write checked against it is being written.

``CRM.checked_write`` locks the core configuration in its transaction (shared; a change of
it exclusively), so the change waits for the checked write to commit and then sees it, even
on a database whose core configuration was never stored.  Staged in threads of one process,
the checked write held inside its transaction by an event, never with sleeps; on SQLite the
write lock orders the two the same way.
"""

from __future__ import annotations

import threading

import rel_support
from crmkit import CRM

HANG_GUARD_S = rel_support.HANG_GUARD_S


def test_a_core_config_change_waits_for_a_checked_write_on_a_fresh_database(crm, crm_url,
                                                                          clock):
    """On a database that has never stored a core configuration, a change of it that starts
    while a checked write is in its transaction waits until that write commits."""
    inside, opened = threading.Event(), threading.Event()

    def write(tx, checked):
        inside.set()
        assert opened.wait(HANG_GUARD_S), "the test never let the checked write commit"
        return checked

    with CRM.open(crm_url, clock=clock) as admin:
        writing = rel_support.Outcome(lambda: crm.checked_write(
            "nothing was written", lambda conn: None, lambda seen: "checked", write))
        writing.start()
        assert inside.wait(HANG_GUARD_S), "the checked write never reached its transaction"
        changing = rel_support.Outcome(lambda: admin.plugins.configure_core(
            {**admin.core_config, "timezone": "Europe/Paris"}))
        changing.start()
        rel_support.wait_until_blocked(crm_url)
        opened.set()
        assert (writing.finish().error, writing.result) == (None, "checked")
        assert changing.finish().error is None, changing.error
        assert admin.core_config["timezone"] == "Europe/Paris"
