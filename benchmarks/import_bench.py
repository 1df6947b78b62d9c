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
file.  With ``--repeat N`` each side runs N times, interleaved with the
baseline (raw, crmkit, raw, crmkit, …: a shared machine's load changes), and
the ratio compares the best time of each.  Prints every time, the speed ratio
(baseline time / crmkit time; goals >= 0.5x with no plugin, >= 0.3x with all
eight) and the peak resident memory (the child's own rusage, as GNU time's ``%M``; goal
< 200 MB); no assertions.

    python benchmarks/import_bench.py                 # 1,000,000 rows, 100,000 customers
    python benchmarks/import_bench.py --rows 200000 --customers 20000 --plugins none
    python benchmarks/import_bench.py --plugins none --repeat 3    # best of three, interleaved
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
from typing import Callable

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


def crmkit_import(folder: Path, path: Path, plugins: tuple[str, ...],
                  url: str | None = None) -> tuple[float, float, str]:
    """Set up a database with ``plugins`` enabled (untimed), then import ``path`` as a user
    would: ``crmkit --db URL import interactions FILE --create-customers``.  ``url``: an
    empty database to use (default: a new SQLite file in ``folder``)."""
    db = ["--db", url or f"sqlite:///{folder / 'crm.db'}"]
    subprocess.run(CRMKIT + db + ["init"], check=True, capture_output=True)
    for name in plugins:
        subprocess.run(CRMKIT + db + ["plugins", "enable", name], check=True,
                       capture_output=True)
    return run(CRMKIT + db + ["import", "interactions", str(path), "--create-customers"])


def compare(label: str, rows: int, repeat: int, raw_run: Callable[[], float],
            crmkit_run: Callable[[], tuple[float, float, str]], goal: float) -> dict:
    """Run the raw loader and the crmkit command ``repeat`` times each, interleaved (raw,
    crmkit, raw, crmkit, …: a shared machine's slow spells hit both sides), print every
    time and the ratio of the best of each side; return the figures."""
    raw_times, times, peaks = [], [], []
    summary = ""
    for _ in range(repeat):
        raw_times.append(raw_run())
        peak, seconds, out = crmkit_run()
        times.append(seconds)
        peaks.append(peak)
        summary = out.strip().splitlines()[0] if out.strip() else ""
    base, seconds, peak = min(raw_times), min(times), max(peaks)
    print(f"  raw loader: {', '.join(f'{s:.2f}' for s in raw_times)} s; "
          f"crmkit: {', '.join(f'{s:.2f}' for s in times)} s")
    print(f"{label}: raw {base:.2f} s, crmkit {seconds:.2f} s "
          f"({rows / seconds:,.0f} rows/s), ratio {base / seconds:.2f}x (goal >= {goal}x; "
          f"best of {repeat}), peak RSS {peak:.0f} MB (goal < 200 MB) [{summary}]")
    return {"baseline_s": round(base, 3), "s": round(seconds, 3),
            "ratio": round(base / seconds, 3), "mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--plugins", choices=("both", "none", "all"), default="both",
                        help="which crmkit runs: no plugin, all eight, or both (default)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each side, interleaved; the best of each is compared")
    args = parser.parse_args()
    sides = {"none": [()], "all": [PLUGINS], "both": [(), PLUGINS]}[args.plugins]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "interactions.csv"
        write_csv(path, args.rows, args.customers)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows for {args.customers:,} customers, {size_mb:.0f} MB CSV")
        figures = {"rows": args.rows, "customers": args.customers, "repeat": args.repeat}

        def raw_run() -> float:
            with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                return baseline(path, Path(scratch) / "raw.db", args.customers)

        for plugins in sides:
            def crmkit_run(plugins=plugins) -> tuple[float, float, str]:
                with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                    return crmkit_import(Path(scratch), path, plugins)

            label = "crmkit import, all eight plugins" if plugins else "crmkit import, no plugin"
            found = compare(label, args.rows, args.repeat, raw_run, crmkit_run, 0.3 if plugins else 0.5)
            side = "all" if plugins else "none"
            figures.update({f"{side}_{key}": value for key, value in found.items()})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
