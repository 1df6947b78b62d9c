"""operational_0004: short timestamps stored by sqlite3's default adapter get the full form."""

from __future__ import annotations

from sqlalchemy import text

import crmkit_operational
from crmkit import migrate
from crmkit.types import sqlite_timestamp

SHORT = "2025-01-01 12:00:00"


def test_0004_pads_short_scored_at_and_fired_at_and_keeps_the_rest(crm, operational, clock):
    operational()
    crm.customers.add("C1")
    location = crmkit_operational.crmkit_migrations()
    full = sqlite_timestamp(clock.now().replace(microsecond=250))
    with crm.connect(write=True) as conn:
        migrate.downgrade(conn, "operational@operational_0003", [location])
        conn.execute(text("UPDATE operational_leads SET scored_at = :at"),
                     {"at": SHORT if conn.dialect.name == "sqlite" else clock.now()})
        conn.execute(text(
            "INSERT INTO operational_firings (id, rule, trigger_type, trigger_kind, trigger_id,"
            " customer_id, chain_depth, status, triggered_at, due_at, fired_at, actions)"
            " VALUES (1, 'r', 'lead.qualified', 'event', 1, 1, 0, 'fired', :full, :full, :short,"
            " '[]'), (2, 'r', 'lead.qualified', 'event', 2, 1, 0, 'fired', :full, :full, :full,"
            " '[]')"), {"full": full if conn.dialect.name == "sqlite" else clock.now(),
                        "short": SHORT if conn.dialect.name == "sqlite" else clock.now()})
        migrate.upgrade(conn, "operational@head", [location])
        conn.commit()
    with crm.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version_operational "
                                 "WHERE version_num = 'operational_0004'")).scalar() == 1
        if conn.dialect.name != "sqlite":  # real timestamps: nothing to pad, nothing touched
            assert conn.execute(text("SELECT scored_at FROM operational_leads")).scalar() == clock.now()
            return
        assert conn.execute(text("SELECT scored_at FROM operational_leads")).scalars().all() == [
            SHORT + ".000000"]
        assert conn.execute(text("SELECT fired_at FROM operational_firings ORDER BY id")
                            ).scalars().all() == [SHORT + ".000000", full]
