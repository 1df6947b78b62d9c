"""The PostgreSQL half of the ingest benchmark: crmkit's COPY path against raw psycopg COPY."""

from __future__ import annotations

from _common import Timer, report

from crmkit.devtools.testing import PostgresServer
from crmkit.types import MONEY_SCALE

RAW_DDL = """
CREATE TABLE raw_customers (id SERIAL PRIMARY KEY, external_id TEXT UNIQUE);
CREATE TABLE raw_interactions (
    id BIGSERIAL PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES raw_customers(id),
    occurred_at TIMESTAMPTZ NOT NULL, channel TEXT, kind TEXT NOT NULL, direction TEXT NOT NULL,
    amount BIGINT, currency TEXT, external_id TEXT UNIQUE, payload JSONB, actor TEXT,
    recorded_at TIMESTAMPTZ NOT NULL);
CREATE INDEX raw_ix ON raw_interactions (customer_id, occurred_at);
"""


def raw_copy(url: str, rows: list[dict], customers: int) -> float:
    """Raw psycopg: COPY the same rows (customer ids resolved) into an equivalent table."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute(RAW_DDL)
        with conn.cursor().copy("COPY raw_customers (external_id) FROM STDIN") as copy:
            for i in range(customers):
                copy.write_row((f"C{i}",))
        conn.commit()
        with Timer() as timer:
            with conn.cursor().copy(
                    "COPY raw_interactions (customer_id, occurred_at, channel, kind, direction,"
                    " amount, currency, external_id, payload, actor, recorded_at) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((int(r["customer"][1:]) + 1, r["occurred_at"], r["channel"],
                                    r["kind"], "inbound", int(r["amount"] * MONEY_SCALE), "USD",
                                    r["external_id"], None, "system", r["occurred_at"]))
            conn.commit()
    return timer.seconds


def compare_postgres(rows: list[dict], customers: int, plugins: str, crmkit_run) -> None:
    """Start a throwaway server, run both, print the ratio."""
    server = PostgresServer().start()
    try:
        baseline = raw_copy(server.create_database(), rows, customers)
        ours, enabled = crmkit_run(server.create_database(), rows, customers, plugins)
    finally:
        server.stop()
    print(f"plugins enabled on PostgreSQL: {', '.join(enabled) or 'none'}")
    report(f"PostgreSQL ingest of {len(rows):,} interactions (COPY)", baseline, ours, len(rows), 0.5)
