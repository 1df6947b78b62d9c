"""Operational ingest benchmark: interactions through ``record_many`` with operational enabled,
against the same pipeline with no plugin (same process, same rows).

The rows mix visits, inbound calls and messages, purchases and a few complaints,
so the react step does its real work: leads entering the funnel, decayed and
capped scores for every customer in the batch (one SQL statement), promotions,
assignment with first-contact tasks, complaint cases with SLA due times, and an
``interaction.recorded`` automation rule matched in SQL.

    python benchmarks/ingest_operational.py --rows 200000 --customers 20000
    python benchmarks/ingest_operational.py --rows 20000 --customers 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, report  # noqa: E402

from crmkit import CRM  # noqa: E402

END = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
CONFIG = {"automation": {"rules": [
    {"name": "big-purchase", "on": "interaction.recorded",
     "if": {"all": [{"field": "payload.kind", "op": "eq", "value": "purchase"},
                    {"field": "payload.amount", "op": "ge", "value": 150}]},
     "do": [{"create_task": {"subject": "Thank the customer", "team": "sales"}}]}]}}


def rows(count: int, customers: int, seed: int = 1) -> list[dict]:
    """A year of mixed interactions ending at END."""
    rng = random.Random(seed)
    kinds = ["visit"] * 5 + ["call", "message", "purchase", "purchase"]
    result = []
    for i in range(count):
        kind = "complaint" if rng.random() < 0.01 else rng.choice(kinds)
        row = {"customer": f"C{rng.randrange(customers)}", "kind": kind, "channel": "web",
               "occurred_at": END - dt.timedelta(seconds=rng.randrange(31_000_000)),
               "external_id": f"I{i}"}
        if kind == "purchase":
            row["amount"] = Decimal(rng.randrange(100, 20_000)) / 100
        if kind in ("call", "message"):
            row["direction"] = rng.choice(["inbound", "outbound"])
        result.append(row)
    return result


def pipeline(path: Path, data: list[dict], customers: int, operational: bool) -> float:
    """record_many of the rows (timed) after staff and customers (not timed)."""
    from crmkit import FixedClock

    with CRM.open(f"sqlite:///{path}", clock=FixedClock(END), create=True) as crm:
        if operational:
            crm.plugins.enable("operational", CONFIG)
        for handle in ("ana", "ben", "cai"):
            crm.staff.add(handle, handle.title(), "sales")
        crm.staff.add("dee", "Dee", "support")
        crm.customers.add_many(({"external_id": f"C{i}"} for i in range(customers)),
                               batch_size=5000)
        with Timer() as timer:
            crm.interactions.record_many(iter(data), batch_size=5000)
        if operational:
            api = crm.plugin("operational")
            print(f"  leads at mql: {len(api.scores(stage='mql', limit=None))}, "
                  f"open tasks: {len(api.tasks())}, cases: {len(api.cases())}")
    return timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    data = rows(args.rows, args.customers)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = pipeline(Path(tmp) / "core.db", data, args.customers, operational=False)
        ours = pipeline(Path(tmp) / "operational.db", data, args.customers, operational=True)
    report("record_many with operational vs. no plugin", baseline, ours, args.rows, goal=0.25)


if __name__ == "__main__":
    main()
