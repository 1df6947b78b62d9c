"""3b. Plugins that misuse the transaction instead of raising: the core notices, rolls back,
and names the plugin and the hook.

relfaulty's ``misbehave`` setting makes its ``crmkit_react_interactions`` (which runs after
every built-in's but social's) first change a customer's name, then end the transaction,
delete the batch, break a core row or swallow a database error; ``wrong_result`` makes its
validate, sweep and timeline hooks return the wrong type.  Every command goes through the
CLI with every built-in and relcheck enabled: one ``error:`` line naming relfaulty and the
hook, and the database exactly as before.
"""

from __future__ import annotations

import pytest

import rel_db
import rel_support
from rel_support import assert_clean_failure, cli

RECORD = ["interactions", "record", "C1", "--amount", "25", "--external-id", "N1"]
REACT = "crmkit_react_interactions"


def _misbehave(url: str, how: str | None) -> None:
    with rel_support.open_crm(url, create=False) as crm:
        crm.plugins.configure("relfaulty", {"misbehave": how})


@pytest.mark.parametrize("how, expected", [
    ("commit", "tried to end the transaction (commit or rollback) in " + REACT),
    ("commit_statement", "tried to end the transaction (commit or rollback) in " + REACT),
    ("rollback", "tried to end the transaction (commit or rollback) in " + REACT),
    ("null_core_column", "failed in " + REACT + ": IntegrityError"),
])
def test_a_hook_that_ends_the_transaction_or_breaks_the_batch_is_named_and_undone(
        seeded_url, how, expected):
    _misbehave(seeded_url, how)
    before = rel_db.snapshot(seeded_url)
    code, _, err = cli(seeded_url, *RECORD)
    assert_clean_failure(code, err, "plugin 'relfaulty' " + expected)
    assert rel_db.snapshot(seeded_url) == before
    _misbehave(seeded_url, None)
    code, _, err = cli(seeded_url, *RECORD)
    assert code == 0, err
    assert rel_db.integrity_problems(seeded_url) == []


def test_a_hook_that_deletes_the_batch_is_named_and_undone(crm_url, clock):
    """Alone with social (whose react hook runs after it): every other plugin holds foreign
    keys to the interactions, which would refuse the delete themselves."""
    with rel_support.open_crm(crm_url, clock) as crm:
        crm.customers.add("C1", "Ada Lovelace")
        crm.plugins.enable("relfaulty", {"misbehave": "delete_batch"})
        if "social" in rel_support.existing_builtins():
            crm.plugins.enable("social")
    before = rel_db.snapshot(crm_url)
    code, _, err = cli(crm_url, *RECORD)
    assert_clean_failure(code, err, "plugin 'relfaulty' deleted 1 of the 1 interactions "
                                    f"being written in {REACT}")
    assert rel_db.snapshot(crm_url) == before


def test_a_delete_through_the_driver_s_cursor_is_caught_after_the_last_hook(crm_url, clock):
    """crmkit does not see statements run on the driver's own cursor: the count after the
    last react hook still finds the rows gone, and nothing is written."""
    with rel_support.open_crm(crm_url, clock) as crm:
        crm.customers.add("C1", "Ada Lovelace")
        crm.plugins.enable("relfaulty", {"misbehave": "driver_delete_batch"})
    before = rel_db.snapshot(crm_url)
    code, _, err = cli(crm_url, *RECORD)
    assert_clean_failure(code, err, "a plugin (through the database driver's own cursor: one "
                                    "of relfaulty) deleted 1 of the 1 interactions being "
                                    f"written in {REACT}")
    assert rel_db.snapshot(crm_url) == before


def test_a_hook_that_swallows_a_database_error_is_named_not_the_next_plugin(seeded_url):
    """On PostgreSQL the failed statement aborted the transaction: the next plugin's first
    statement would fail, so the core names relfaulty as soon as its hook returns.  On
    SQLite the transaction survives a failed statement, and the command succeeds."""
    _misbehave(seeded_url, "swallow_db_error")
    before = rel_db.snapshot(seeded_url)
    code, _, err = cli(seeded_url, *RECORD)
    if seeded_url.startswith("sqlite"):
        assert code == 0, err
        assert rel_db.count(seeded_url, "SELECT kind FROM interactions "
                                        "WHERE external_id = 'N1'") == "purchase"
    else:
        assert_clean_failure(code, err, f"plugin 'relfaulty' left the transaction failed in "
                                        f"{REACT}: one of its statements failed")
        assert "social" not in err
        assert rel_db.snapshot(seeded_url) == before
    assert rel_db.integrity_problems(seeded_url) == []


@pytest.mark.sqlite_only
def test_a_commit_on_the_drivers_connection_is_reported(seeded_url):
    """Past crmkit's guard (a COMMIT straight on the driver's connection) the rows before it
    may stay committed, but the command fails naming the plugin when the driver's
    connection is left outside a transaction (SQLite's autocommit after such a commit;
    psycopg opens a new transaction at the next statement, which is not observable)."""
    _misbehave(seeded_url, "driver_commit")
    code, _, err = cli(seeded_url, *RECORD)
    assert_clean_failure(code, err, "plugin 'relfaulty' ended the transaction in " + REACT,
                         "what this command wrote before may be committed")


def test_hooks_returning_the_wrong_type_are_named(seeded_url):
    _misbehave(seeded_url, "wrong_result")
    before = rel_db.snapshot(seeded_url)
    for args, message in (
            (RECORD, "crmkit_validate_interactions must return a list of (index, field, "
                     "message) or None, got str"),
            (["sweep"], "crmkit_sweep must return a dict of counts or None, got list"),
            (["customers", "show", "C1"], "crmkit_timeline must return a list of "
                                          "TimelineEntry or None, got dict")):
        code, _, err = cli(seeded_url, *args)
        assert_clean_failure(code, err, "plugin 'relfaulty': " + message)
        assert rel_db.snapshot(seeded_url) == before
