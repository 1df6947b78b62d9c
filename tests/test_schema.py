"""Opening databases: schema creation on request only, bad URLs, newer schemas."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from crmkit import CRM
from crmkit.errors import DatabaseError


def test_schema_is_never_created_silently(crm_url):
    with pytest.raises(DatabaseError, match="crmkit init"):
        CRM.open(crm_url)
    with CRM.open(crm_url, create=True) as crm:
        assert crm.customers.count() == 0
    with CRM.open(crm_url) as crm:
        assert crm.customers.count() == 0


@pytest.mark.parametrize("url, message", [
    ("not a url", "malformed database URL"),
    ("mysql://u@h/db", "unsupported database 'mysql'"),
])
def test_bad_urls(url, message):
    with pytest.raises(DatabaseError, match=message):
        CRM.open(url)


def test_unreachable_database_is_one_clear_error(tmp_path):
    with pytest.raises(DatabaseError):
        CRM.open(f"sqlite:///{tmp_path}/missing-dir/x.db", create=True)


def test_database_from_a_newer_crmkit_is_refused(crm_url):
    with CRM.open(crm_url, create=True) as crm:
        with crm.connect(write=True) as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'core_9999'"))
            conn.commit()
    with pytest.raises(DatabaseError, match="newer crmkit"):
        CRM.open(crm_url)


def test_sqlite_pragmas(tmp_path):
    with CRM.open(f"sqlite:///{tmp_path}/p.db", create=True) as crm:
        with crm.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_a_transaction_without_row_foreign_key_checks_turns_them_on_again(tmp_path):
    """``row_foreign_key_checks=False`` holds for that transaction only; a connection on which
    they could not be turned on again (a transaction still open) is dropped, not pooled."""
    from sqlalchemy.exc import IntegrityError

    from crmkit.app import _foreign_key_checks_back_on

    with CRM.open(f"sqlite:///{tmp_path}/p.db", create=True) as crm:
        with crm.transaction(row_foreign_key_checks=False) as tx:
            assert tx.conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        with pytest.raises(IntegrityError), crm.transaction() as tx:
            tx.conn.exec_driver_sql("INSERT INTO interactions (customer_id, occurred_at, kind, "
                                    "direction, recorded_at) VALUES (42, 'x', 'k', 'inbound', 'x')")
        with crm.connect() as conn:
            driver = conn.connection.driver_connection
            driver.execute("PRAGMA foreign_keys=OFF")
            driver.execute("BEGIN")  # the pragma does nothing inside a transaction
            _foreign_key_checks_back_on(conn)
            assert conn.invalidated
