"""Campaign planning benchmark: ``crmkit campaigns run`` against one bare ``INSERT … SELECT``.

Builds a database of ``--customers`` customers (80 % of them in the audience
``region = north``; email consent granted for 3 in 4, withdrawn for some, none
for the rest; a preferred channel of sms for 1 in 25; a frequency cap of 2
emails in 7 days that 1 in 10 customers has reached) and then times, against the
same database:

* **crmkit**: the command ``crmkit campaigns run`` in-process, through the CLI's
  code path (opening the database, loading the plugins, the audience, consent,
  preferred channel, caps, holdout and variant draws, the recipient rows, the
  counts printed).  **This is the goal figure** (≤ 2× the baseline);
* **process**: the same command as its own ``crmkit`` process, Python's and
  crmkit's start-up included (what a user at a shell waits for);
* **api**: the same planning through ``crm.plugin("campaigns").run`` on an open CRM
  (without the command's start: opening the database, loading the plugins);
* **baseline**: one ``INSERT INTO bare_audience SELECT id FROM customers WHERE …``
  of the same audience (the same condition SQL) into a table with one column.

Each side runs ``--repeat`` times, interleaved (the campaign's recipients and the
bare table are emptied between runs, untimed), and the fastest runs are compared;
each ratio is that side's time ÷ the baseline's.

    python benchmarks/campaigns.py --customers 100000 --repeat 3
    python benchmarks/campaigns.py --customers 100000 --pg
    python benchmarks/campaigns.py --customers 10000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, delete, insert, select

sys.path.insert(0, str(Path(__file__).parent))

from _common import child_env  # noqa: E402
from crmkit import CRM  # noqa: E402
from crmkit.cli import main  # noqa: E402
from crmkit.condition_sql import customer_condition  # noqa: E402
from crmkit.devtools.testing import PostgresServer  # noqa: E402
from crmkit.messaging import Outgoing  # noqa: E402
from crmkit.tables import consents, customers  # noqa: E402
from crmkit_campaigns.tables import campaigns, recipients  # noqa: E402

AUDIENCE = {"field": "attributes.region", "op": "eq", "value": "north"}
BARE = Table("bare_audience", MetaData(), Column("customer_id", Integer, nullable=False))


def build(crm: CRM, count: int) -> None:
    """The customers, their consent and their recent emails (setup, untimed)."""
    crm.plugins.configure_core({**crm.core_config, "public_url": "https://crm.example.com"})
    crm.plugins.enable("campaigns", {"frequency_caps": {"email": {"messages": 2, "days": 7}}})
    crm.customers.add_many(
        ({"external_id": f"C{i}", "name": f"Customer {i}", "email": f"c{i}@example.com",
          "preferred_channel": "sms" if i % 25 == 3 else None,
          "attributes": {"region": "south" if i % 5 == 0 else "north"}}
         for i in range(count)), batch_size=10_000)
    now = crm.clock.now()
    with crm.transaction() as tx:
        ids = tx.conn.execute(select(customers.c.id)).scalars().all()
        tx.conn.execute(insert(consents), [
            {"customer_id": cid, "channel": "email", "granted": cid % 8 != 4,
             "source": "benchmark", "recorded_at": now} for cid in ids if cid % 8 != 0])
    capped = [f"C{i}" for i in range(count) if i % 10 == 7]
    for _ in range(2):
        crm.messages.enqueue(Outgoing(channel="email", recipient=f"{x.lower()}@example.com",
                                      body="earlier", subject="Earlier", customer=x)
                             for x in capped)
    crm.plugin("campaigns").add("bench", channel="email", condition=AUDIENCE, subject="Hi",
                                template="Hello {{ name }}: https://shop.example.com/",
                                holdout=0.1)
    with crm.transaction() as tx:
        BARE.create(tx.conn)
    if crm.engine.dialect.name == "postgresql":  # the statistics autovacuum would have by now
        with crm.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def crmkit_side(url: str) -> float:
    """``crmkit campaigns run bench`` in-process; its printed counts are kept quiet."""
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        status = main(["--db", url, "campaigns", "run", "bench", "--format", "json"])
        seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"crmkit campaigns run exited {status}")
    return seconds


def process_side(url: str, env: dict[str, str]) -> float:
    """``crmkit campaigns run bench`` as its own process, start-up included."""
    command = [str(Path(sys.executable).with_name("crmkit")), "--db", url, "campaigns", "run",
               "bench", "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"crmkit campaigns run exited {done.returncode}: {done.stderr.strip()}")
    return seconds


def api_side(crm: CRM) -> float:
    """``crm.plugin("campaigns").run("bench")`` on the open CRM: the planning without the
    command's start (opening the database, loading the plugins)."""
    start = time.perf_counter()
    crm.plugin("campaigns").run("bench")
    return time.perf_counter() - start


def baseline_side(crm: CRM) -> float:
    """One INSERT … SELECT of the same audience into the bare table, committed."""
    query = select(customers.c.id).where(customers.c.erased_at.is_(None),
                                         customer_condition(AUDIENCE))
    start = time.perf_counter()
    with crm.engine.begin() as conn:
        conn.execute(insert(BARE).from_select(["customer_id"], query))
    return time.perf_counter() - start


def reset(crm: CRM) -> None:
    """Empty the campaign's recipients and the bare table (untimed), set it back to draft."""
    with crm.transaction() as tx:
        tx.conn.execute(delete(recipients))
        tx.conn.execute(campaigns.update().values(status="draft"))
        tx.conn.execute(delete(BARE))


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default=None, help="A database URL (default: a new SQLite file).")
    parser.add_argument("--pg", action="store_true",
                        help="On a throwaway PostgreSQL server (needs the server binaries).")
    args = parser.parse_args(argv)
    server = PostgresServer().start() if args.pg else None
    try:
        return measure(args, server.url() if server else args.db)
    finally:
        if server is not None:
            server.stop()


def measure(args: argparse.Namespace, db: str | None) -> int:
    """Build the database, run both sides, print the times and the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        with CRM.open(url, create=True) as crm:
            started = time.perf_counter()
            build(crm, args.customers)
            print(f"setup: {args.customers:,} customers in {time.perf_counter() - started:.1f} s")
            times: dict[str, list[float]] = {"crmkit": [], "process": [], "api": [],
                                             "baseline": []}
            env = child_env()
            for _ in range(args.repeat):
                reset(crm)
                times["crmkit"].append(crmkit_side(url))
                reset(crm)
                times["process"].append(process_side(url, env))
                reset(crm)
                times["api"].append(api_side(crm))
                times["baseline"].append(baseline_side(crm))
            shown = crm.plugin("campaigns").show("bench")["recipients"]
            with crm.read() as conn:
                bare = len(conn.execute(select(BARE.c.customer_id)).all())
    for name, seconds in times.items():
        print(f"  {name}: {', '.join(f'{s:.2f}' for s in seconds)} s")
    base = min(times["baseline"])
    print(f"audience {bare:,}: planned {shown['planned']:,}, held out {shown['held_out']:,}, "
          f"skipped {shown['skipped']:,} {shown['skipped_by_reason']}")
    print(f"planning: baseline {base:.2f} s; crmkit campaigns run in-process "
          f"{min(times['crmkit']):.2f} s, ratio {min(times['crmkit']) / base:.2f}x (goal <= 2x); "
          f"as a process (start-up included) {min(times['process']):.2f} s, ratio "
          f"{min(times['process']) / base:.2f}x; the API call alone {min(times['api']):.2f} s, "
          f"ratio {min(times['api']) / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
