"""Loyalty ingest benchmark: purchases through ``record_many`` with loyalty enabled against raw
``sqlite3`` ``executemany`` of the same rows (same process, same machine).

Each purchase has line items (a third with a delivery line, which earns nothing),
so the plugin's react step does its real work: eligible amounts, earn rows,
purchase counts, one milestone (the 10th purchase) and tier upgrades (the
clock stands at the end of the two years of purchases, so the last year
qualifies for silver and gold).  Also times the pipeline with no plugin, to
show what loyalty itself costs.  With ``--repeat N`` each side runs N times,
interleaved, and the fastest runs are compared.

    python benchmarks/ingest_loyalty.py --rows 1000000 --customers 100000
    python benchmarks/ingest_loyalty.py --batch-size 200000 --repeat 3
    python benchmarks/ingest_loyalty.py --rows 50000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))

from _common import START, Timer, best_of, report  # noqa: E402

from crmkit import CRM, FixedClock  # noqa: E402
from crmkit.types import MONEY_SCALE, sqlite_timestamp  # noqa: E402
from crmkit_loyalty.tables import milestones  # noqa: E402


def purchases(count: int, customers: int, seed: int = 1) -> list[dict]:
    """Purchases with one or two line items, a third of them with a 4.99 delivery line."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        items = [{"sku": f"SKU{rng.randrange(500)}", "category": "goods",
                  "amount": str(Decimal(rng.randrange(100, 20_000)) / 100)}]
        if rng.random() < 1 / 3:
            items.append({"sku": "SHIP", "category": "delivery", "amount": "4.99"})
        rows.append({"customer": f"C{rng.randrange(customers)}",
                     "occurred_at": START + dt.timedelta(seconds=rng.randrange(63_000_000)),
                     "kind": "purchase", "channel": "web",
                     "amount": sum(Decimal(item["amount"]) for item in items),
                     "external_id": f"I{i}", "payload": {"items": items}})
    return rows


def raw(path: Path, rows: list[dict], customers: int) -> float:
    """Raw sqlite3 into an equivalent table: one executemany, one commit."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE raw_customers (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE)")
    conn.execute("""CREATE TABLE raw_interactions (
        id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES raw_customers(id),
        occurred_at TEXT NOT NULL, channel TEXT, kind TEXT NOT NULL, direction TEXT NOT NULL,
        amount INTEGER, currency TEXT, external_id TEXT UNIQUE, payload TEXT, actor TEXT,
        recorded_at TEXT NOT NULL)""")
    conn.execute("CREATE INDEX raw_ix ON raw_interactions (customer_id, occurred_at)")
    conn.executemany("INSERT INTO raw_customers VALUES (?, ?)",
                     [(i + 1, f"C{i}") for i in range(customers)])
    conn.commit()
    with Timer() as timer:
        params = [(int(r["customer"][1:]) + 1, sqlite_timestamp(r["occurred_at"]), r["channel"],
                   r["kind"], "inbound", int(r["amount"] * MONEY_SCALE), "USD", r["external_id"],
                   json.dumps(r["payload"]), "system", sqlite_timestamp(r["occurred_at"]))
                  for r in rows]
        conn.executemany("INSERT INTO raw_interactions (customer_id, occurred_at, channel, kind,"
                         " direction, amount, currency, external_id, payload, actor, recorded_at)"
                         " VALUES (?,?,?,?,?,?,?,?,?,?,?)", params)
        conn.commit()
    conn.close()
    return timer.seconds


CLOCK = START + dt.timedelta(days=730)
"""The pipeline's now: just after the last generated purchase."""
CONFIG = {"milestones": [{"count": 10, "points": 100}]}
"""Default earning and tiers (bronze, silver ×1.25, gold ×1.5), one milestone."""


def pipeline(path: Path, rows: list[dict], customers: int, loyalty: bool,
             batch_size: int = 5000) -> tuple[float, str]:
    """record_many of the rows (timed) after creating the customers (not timed); with loyalty
    also what it produced (points outstanding, members per tier, milestones)."""
    with CRM.open(f"sqlite:///{path}", create=True, clock=FixedClock(CLOCK)) as crm:
        if loyalty:
            crm.plugins.enable("loyalty", CONFIG)
        crm.customers.add_many(({"external_id": f"C{i}"} for i in range(customers)),
                               batch_size=5000)
        with Timer() as timer:
            crm.interactions.record_many(iter(rows), batch_size=batch_size)
        summary = ""
        if loyalty:
            api = crm.plugin("loyalty")
            points = sum(line.points for line in api.liability())
            tiers = ", ".join(f"{t.name} {t.members:,}" for t in api.tiers())
            with crm.read() as conn:
                bonuses = conn.execute(select(func.count()).select_from(milestones)).scalar()
            summary = (f"{points:,} points outstanding; members per tier: {tiers}; "
                       f"{bonuses:,} milestone bonuses")
    return timer.seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000,
                        help="rows per pipeline transaction (the baseline uses one for all)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each side, interleaved; the fastest of each is compared")
    args = parser.parse_args()
    rows = purchases(args.rows, args.customers)
    summaries = []

    def with_loyalty(tmp: Path) -> float:
        seconds, summary = pipeline(tmp / "loyalty.db", rows, args.customers, True,
                                    args.batch_size)
        summaries.append(summary)
        return seconds

    best = best_of(args.repeat, {
        "raw sqlite3": lambda tmp: raw(tmp / "raw.db", rows, args.customers),
        "no plugin": lambda tmp: pipeline(tmp / "plain.db", rows, args.customers, False,
                                          args.batch_size)[0],
        "loyalty": with_loyalty})
    baseline, plain, ours = best["raw sqlite3"], best["no plugin"], best["loyalty"]
    batches = f"batches of {args.batch_size:,}, best of {args.repeat}"
    report(f"record_many, no plugin, {batches}", baseline, plain, args.rows, 0.4)
    report(f"record_many with loyalty, {batches}", baseline, ours, args.rows, 0.4)
    print(f"loyalty: {summaries[-1]}; loyalty costs {ours / plain:.2f}x the pipeline without plugins")


if __name__ == "__main__":
    main()
