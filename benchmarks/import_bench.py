"""Import benchmark: a CSV of interactions through ``crmkit import`` against a raw sqlite3 loader.

Both sides start from the same CSV file on disk and end with the rows
committed in SQLite:

* baseline — the simplest raw loader: ``csv.reader`` over the file, each row
  converted to the stored values (customer id from a dict, timestamp text,
  money units), ``executemany`` in chunks into an equivalent table, one commit;
* crmkit — the command users run, ``crmkit --db URL import interactions FILE
  --create-customers`` as a child process (its start-up included; ``init`` and
  ``plugins enable`` before it are not timed), with no plugin enabled and with
  all eight.

The baseline's customers exist before it starts; crmkit creates them from the
file.  The baseline runs again right before each crmkit run (a shared machine's
load changes), and each ratio uses the baseline run just before it.  Prints
the baseline, each crmkit run, its speed ratio (baseline time /
crmkit time; goals >= 0.5x with no plugin, >= 0.3x with all eight) and its
peak resident memory (the child's own rusage, as GNU time's ``%M``; goal
< 200 MB); no assertions.

    python benchmarks/import_bench.py                 # 1,000,000 rows, 100,000 customers
    python benchmarks/import_bench.py --rows 200000 --customers 20000 --plugins none
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
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


PLUGINS = ("analytical", "assessment", "collaborative", "idic", "loyalty", "operational",
           "social", "valuechain")
CRMKIT = [str(Path(sys.executable).with_name("crmkit"))]
"""The ``crmkit`` script installed next to this Python (``pip install -e .``)."""


def run(command: list[str]) -> tuple[float, float, str]:
    """Run ``command`` as a child process; return its peak RSS in MB, seconds and stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        out_text, err_text = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} failed:\n{err_text}")
    maxrss = usage.ru_maxrss  # KiB on Linux, bytes on macOS
    peak = maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024
    return peak, seconds, out_text


def crmkit_import(folder: Path, path: Path, plugins: tuple[str, ...]) -> tuple[float, float, str]:
    """Set up a database with ``plugins`` enabled (untimed), then import ``path`` as a user
    would: ``crmkit --db URL import interactions FILE --create-customers``."""
    db = ["--db", f"sqlite:///{folder / 'crm.db'}"]
    subprocess.run(CRMKIT + db + ["init"], check=True, capture_output=True)
    for name in plugins:
        subprocess.run(CRMKIT + db + ["plugins", "enable", name], check=True,
                       capture_output=True)
    return run(CRMKIT + db + ["import", "interactions", str(path), "--create-customers"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--plugins", choices=("both", "none", "all"), default="both",
                        help="which crmkit runs: no plugin, all eight, or both (default)")
    args = parser.parse_args()
    sides = {"none": [()], "all": [PLUGINS], "both": [(), PLUGINS]}[args.plugins]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "interactions.csv"
        write_csv(path, args.rows, args.customers)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows for {args.customers:,} customers, {size_mb:.0f} MB CSV")
        figures = {"rows": args.rows, "customers": args.customers}
        for plugins in sides:
            label = "all eight plugins" if plugins else "no plugin"
            side = "all" if plugins else "none"
            with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                base = baseline(path, Path(scratch) / "raw.db", args.customers)
            print(f"baseline (csv + sqlite3 executemany): {base:.2f} s "
                  f"({args.rows / base:,.0f} rows/s)")
            with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                peak, seconds, out = crmkit_import(Path(scratch), path, plugins)
            summary = out.strip().splitlines()[0] if out.strip() else ""
            print(f"crmkit import, {label + ':':19} {seconds:.2f} s "
                  f"({args.rows / seconds:,.0f} rows/s), ratio {base / seconds:.2f}x "
                  f"(goal >= {0.3 if plugins else 0.5}x), peak RSS {peak:.0f} MB "
                  f"(goal < 200 MB) [{summary}]")
            figures.update({f"{side}_baseline_s": round(base, 3), f"{side}_s": round(seconds, 3),
                            f"{side}_ratio": round(base / seconds, 3), f"{side}_mb": round(peak)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
