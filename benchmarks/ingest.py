"""Ingest benchmark: interactions through ``record_many`` against raw driver inserts.

SQLite: ``crm.interactions.record_many`` (full pipeline, every installed plugin
that loads enabled unless ``--plugins none``) against raw ``sqlite3``
``executemany`` of the same rows into an equivalent table, in the same process.
PostgreSQL (``--pg``): the same pipeline (COPY bulk path) against raw psycopg
COPY into an equivalent table on a throwaway server.

    python benchmarks/ingest.py --rows 1000000 --customers 100000
    python benchmarks/ingest.py --rows 200000 --plugins none
    python benchmarks/ingest.py --rows 200000 --pg
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, interaction_rows, peak_rss_mb, report  # noqa: E402

from crmkit import CRM  # noqa: E402
from crmkit.types import MONEY_SCALE, sqlite_timestamp  # noqa: E402

RAW_TABLE = """CREATE TABLE raw_interactions (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES raw_customers(id),
    occurred_at TEXT NOT NULL, channel TEXT, kind TEXT NOT NULL, direction TEXT NOT NULL,
    amount INTEGER, currency TEXT, external_id TEXT UNIQUE, payload TEXT, actor TEXT,
    recorded_at TEXT NOT NULL)"""


def raw_sqlite(path: Path, rows: list[dict], customers: int) -> float:
    """Raw sqlite3: the same rows, already resolved to ids, one executemany, one commit."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")  # as crmkit sets it: an equivalent table
    conn.execute("CREATE TABLE raw_customers (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE)")
    conn.execute(RAW_TABLE)
    conn.execute("CREATE INDEX raw_ix ON raw_interactions (customer_id, occurred_at)")
    conn.executemany("INSERT INTO raw_customers VALUES (?, ?)",
                     [(i + 1, f"C{i}") for i in range(customers)])
    conn.commit()
    with Timer() as timer:
        params = [(int(r["customer"][1:]) + 1, sqlite_timestamp(r["occurred_at"]), r["channel"],
                   r["kind"], r.get("direction", "inbound"),
                   None if r.get("amount") is None else int(r["amount"] * MONEY_SCALE),
                   None if r.get("amount") is None else "USD", r["external_id"],
                   None, "system", sqlite_timestamp(r["occurred_at"])) for r in rows]
        conn.executemany("INSERT INTO raw_interactions (customer_id, occurred_at, channel, kind,"
                         " direction, amount, currency, external_id, payload, actor, recorded_at)"
                         " VALUES (?,?,?,?,?,?,?,?,?,?,?)", params)
        conn.commit()
    conn.close()
    return timer.seconds


def crmkit_run(url: str, rows: list[dict], customers: int, plugins: str) -> tuple[float, list[str]]:
    """The full pipeline: customers first (not timed), then record_many of the rows (timed)."""
    with CRM.open(url, create=True) as crm:
        enabled = []
        if plugins != "none":
            wanted = None if plugins == "all" else set(plugins.split(","))
            for status in crm.plugins.list():
                if status.status == "broken" or (wanted is not None and status.name not in wanted):
                    continue
                try:
                    crm.plugins.enable(status.name)
                    enabled.append(status.name)
                except Exception as exc:  # a plugin needing another one not wanted
                    print(f"  (could not enable {status.name}: {exc})")
        crm.customers.add_many(({"external_id": f"C{i}"} for i in range(customers)),
                               batch_size=5000)
        with Timer() as timer:
            crm.interactions.record_many(iter(rows), batch_size=5000)
    return timer.seconds, enabled


def streaming_peak(rows: int, customers: int, plugins: str) -> None:
    """Child process: stream rows from a generator through record_many; print peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        with CRM.open(f"sqlite:///{tmp}/m.db", create=True) as crm:
            if plugins != "none":
                for status in crm.plugins.list():
                    if status.status != "broken" and (plugins == "all" or status.name in plugins.split(",")):
                        try:
                            crm.plugins.enable(status.name)
                        except Exception:
                            pass
            crm.customers.add_many(({"external_id": f"C{i}"} for i in range(customers)),
                                   batch_size=5000)
            crm.interactions.record_many(interaction_rows(rows, customers), batch_size=5000)
    print(f"{peak_rss_mb():.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--plugins", default="all", help="all, none, or a comma list")
    parser.add_argument("--pg", action="store_true", help="also run the PostgreSQL COPY comparison")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        streaming_peak(args.rows, args.customers, args.plugins)
        return
    rows = list(interaction_rows(args.rows, args.customers))
    with tempfile.TemporaryDirectory() as tmp:
        baseline = raw_sqlite(Path(tmp) / "raw.db", rows, args.customers)
        ours, enabled = crmkit_run(f"sqlite:///{tmp}/crm.db", rows, args.customers, args.plugins)
    print(f"plugins enabled: {', '.join(enabled) or 'none'}")
    report(f"SQLite ingest of {args.rows:,} interactions", baseline, ours, args.rows, 0.5)
    if args.pg:
        from pg_ingest import compare_postgres

        compare_postgres(rows, args.customers, args.plugins, crmkit_run)
    import subprocess

    child = subprocess.run([sys.executable, __file__, "--memory-child", "--rows", str(args.rows),
                            "--customers", str(args.customers), "--plugins", args.plugins],
                           capture_output=True, text=True, check=True)
    print(f"peak RSS of a process streaming {args.rows:,} rows from a generator through "
          f"record_many: {child.stdout.strip().splitlines()[-1]} MB (goal < 200 MB)")
    print(json.dumps({"rows": args.rows, "baseline_s": round(baseline, 3),
                      "crmkit_s": round(ours, 3), "ratio": round(baseline / ours, 3)}))


if __name__ == "__main__":
    main()
