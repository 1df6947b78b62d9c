"""Import benchmark: a CSV of interactions through ``crmkit import`` against a raw sqlite3 loader.

Both sides start from the same CSV file on disk and end with the rows
committed in SQLite:

* baseline — the simplest raw loader: ``csv.reader`` over the file, each row
  converted to the stored values (customer id from a dict, timestamp text,
  money units), ``executemany`` in chunks into an equivalent table, one commit;
* crmkit — :func:`crmkit.services.importing.import_file`, the code path of
  ``crmkit import interactions FILE`` (two streaming passes: check everything,
  then one atomic ``record_many``), with no plugin enabled unless ``--plugins``.

crmkit runs in a forked child so that its peak resident memory is measured
alone (the file is never held in memory: goal < 200 MB).  Prints the baseline,
crmkit, the speed ratio (baseline time / crmkit time; goal >= 0.4) and the
peak memory; no assertions.

    python benchmarks/import_bench.py                 # 1,000,000 rows
    python benchmarks/import_bench.py --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

UTC = dt.timezone.utc
START = dt.datetime(2023, 1, 1, tzinfo=UTC)
HEADER = ["customer", "occurred_at", "kind", "channel", "amount", "currency", "external_id"]
RAW_TABLE = """CREATE TABLE raw_interactions (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES raw_customers(id),
    occurred_at TEXT NOT NULL, channel TEXT, kind TEXT NOT NULL, direction TEXT NOT NULL,
    amount INTEGER, currency TEXT, external_id TEXT UNIQUE, payload TEXT, actor TEXT,
    recorded_at TEXT NOT NULL)"""


def write_csv(path: Path, rows: int, customers: int, seed: int = 1) -> None:
    """Purchases spread over customers and two years, streamed to ``path``."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            at = START + dt.timedelta(seconds=rng.randrange(63_000_000))
            writer.writerow([f"C{rng.randrange(customers)}", at.isoformat(), "purchase", "web",
                             f"{rng.randrange(100, 50_000) / 100:.2f}", "USD", f"I{i}"])


def baseline(path: Path, db: Path, customers: int) -> float:
    """The raw loader (see the module docstring); returns seconds."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE raw_customers (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE)")
    conn.execute(RAW_TABLE)
    conn.execute("CREATE INDEX raw_ix ON raw_interactions (customer_id, occurred_at)")
    conn.executemany("INSERT INTO raw_customers VALUES (?, ?)",
                     [(i + 1, f"C{i}") for i in range(customers)])
    conn.commit()
    ids = dict(conn.execute("SELECT external_id, id FROM raw_customers"))
    insert = ("INSERT INTO raw_interactions (customer_id, occurred_at, channel, kind, direction,"
              " amount, currency, external_id, payload, actor, recorded_at)"
              " VALUES (?,?,?,?,?,?,?,?,?,?,?)")
    now = dt.datetime.now(UTC).isoformat(sep=" ")
    start = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        chunk = []
        for customer, occurred, kind, channel, amount, currency, external_id in reader:
            at = dt.datetime.fromisoformat(occurred).astimezone(UTC).replace(tzinfo=None)
            chunk.append((ids[customer], at.isoformat(sep=" "), channel, kind, "inbound",
                          int(Decimal(amount) * 10_000), currency, external_id, None, "system",
                          now))
            if len(chunk) == 5000:
                conn.executemany(insert, chunk)
                chunk = []
        conn.executemany(insert, chunk)
    conn.commit()
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def crmkit_child(path: Path, url: str, customers: int, plugins: str, out) -> None:
    """In a forked child: set up customers (untimed), then time import_file; report by pipe."""
    from crmkit import CRM
    from crmkit.services.importing import import_file

    with CRM.open(url, create=True) as crm:
        enabled = []
        for name in [] if plugins == "none" else plugins.split(","):
            crm.plugins.enable(name)
            enabled.append(name)
        crm.customers.add_many(({"external_id": f"C{i}"} for i in range(customers)),
                               batch_size=5000)
        start = time.perf_counter()
        report = import_file(crm, "interactions", str(path))
        seconds = time.perf_counter() - start
    out.write(json.dumps({"seconds": seconds, "summary": report.summary(),
                          "enabled": enabled}))
    out.flush()


def run_crmkit(path: Path, url: str, customers: int, plugins: str) -> tuple[dict, float]:
    """Fork, run :func:`crmkit_child`, return its result and its peak RSS in MB."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            with os.fdopen(write_fd, "w") as out:
                crmkit_child(path, url, customers, plugins, out)
        except BaseException as exc:  # report, never return into the parent's code
            print(f"crmkit run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            code = 1
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not text:
        raise SystemExit("the crmkit run failed (see above)")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return json.loads(text), peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--plugins", default="none", help="none, or a comma list to enable")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "interactions.csv"
        write_csv(path, args.rows, args.customers)
        size_mb = path.stat().st_size / 1e6
        base = baseline(path, folder / "raw.db", args.customers)
        ours, peak = run_crmkit(path, f"sqlite:///{folder / 'crm.db'}", args.customers,
                                args.plugins)
    seconds = ours["seconds"]
    ratio = base / seconds
    print(f"file: {args.rows:,} rows, {size_mb:.0f} MB CSV; plugins enabled: "
          f"{', '.join(ours['enabled']) or 'none'}")
    print(f"baseline (csv + sqlite3 executemany): {base:.2f} s ({args.rows / base:,.0f} rows/s)")
    print(f"crmkit import:                        {seconds:.2f} s "
          f"({args.rows / seconds:,.0f} rows/s)  [{ours['summary']}]")
    print(f"speed ratio {ratio:.2f}x (goal >= 0.4x)")
    print(f"peak RSS of the crmkit process: {peak:.0f} MB (goal < 200 MB)")
    print(json.dumps({"rows": args.rows, "baseline_s": round(base, 3),
                      "crmkit_s": round(seconds, 3), "ratio": round(ratio, 3),
                      "peak_rss_mb": round(peak)}))


if __name__ == "__main__":
    main()
