"""PostgreSQL import benchmark: ``crmkit import interactions`` against raw psycopg COPY.

Run as a script, it compares the command users run with the simplest raw
loader, both reading the same CSV file (``import_bench``'s generator) into a
fresh database of one throwaway PostgreSQL server:

* raw — ``csv.reader`` over the file, each row converted to the stored values
  (customer id from a dict, aware timestamp, money units), one ``COPY`` into an
  equivalent table with the same indexes, one commit (its customers created
  beforehand, untimed);
* crmkit — ``crmkit --db URL import interactions FILE --create-customers`` as a
  child process, no plugin enabled (``init`` untimed).

Each side runs ``--repeat`` times, interleaved; the ratio (raw time / crmkit
time, goal >= 0.5x) compares the best of each.  Also holds ``compare_postgres``,
the PostgreSQL half of ``ingest.py --pg`` (``record_many`` against raw COPY).

    python benchmarks/pg_ingest.py --rows 1000000 --customers 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, report  # noqa: E402

from crmkit.devtools.testing import PostgresServer  # noqa: E402
from crmkit.types import MONEY_SCALE  # noqa: E402

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


def raw_copy_file(url: str, path: Path, customers: int) -> float:
    """Raw psycopg from the CSV file: parse, convert, COPY into an equivalent table, commit
    (customers created first, untimed); returns seconds."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute(RAW_DDL)
        with conn.cursor().copy("COPY raw_customers (external_id) FROM STDIN") as copy:
            for i in range(customers):
                copy.write_row((f"C{i}",))
        conn.commit()
        ids = dict(conn.execute("SELECT external_id, id FROM raw_customers").fetchall())
        now = dt.datetime.now(dt.timezone.utc)
        with Timer() as timer:
            with open(path, newline="", encoding="utf-8") as handle, conn.cursor().copy(
                    "COPY raw_interactions (customer_id, occurred_at, channel, kind, direction,"
                    " amount, currency, external_id, payload, actor, recorded_at) FROM STDIN"
            ) as copy:
                reader = csv.reader(handle)
                next(reader)
                for customer, occurred, kind, channel, amount, currency, external_id in reader:
                    copy.write_row((ids[customer], dt.datetime.fromisoformat(occurred), channel,
                                    kind, "inbound", int(Decimal(amount) * MONEY_SCALE),
                                    currency, external_id, None, "system", now))
            conn.commit()
    return timer.seconds


def main() -> None:
    from import_bench import compare, crmkit_import, write_csv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each side, interleaved; the best of each is compared")
    args = parser.parse_args()
    server = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "interactions.csv"
            write_csv(path, args.rows, args.customers)
            print(f"file: {args.rows:,} rows for {args.customers:,} customers, "
                  f"{path.stat().st_size / 1e6:.0f} MB CSV; PostgreSQL on 127.0.0.1:{server.port}")

            def crmkit_run() -> tuple[float, float, str]:
                return crmkit_import(Path(tmp), path, (), server.create_database())

            figures = compare(
                "crmkit import on PostgreSQL, no plugin", args.rows, args.repeat,
                lambda: raw_copy_file(server.create_database(), path, args.customers),
                crmkit_run, 0.5)
    finally:
        server.stop()
    print(json.dumps({"rows": args.rows, "customers": args.customers, "repeat": args.repeat,
                      **figures}))


if __name__ == "__main__":
    main()
