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
