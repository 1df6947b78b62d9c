"""Operational ingest benchmark: ``record_many`` with operational enabled against raw sqlite3.

Three sides in one process on the same rows: raw ``sqlite3`` ``executemany``
into an equivalent table (the baseline), the pipeline with no plugin, and the
pipeline with operational and a realistic rule set (10 scoring rules, 5
automation rules); both pipeline figures are printed against the baseline.
With ``--repeat N`` each side runs N times, interleaved, and the fastest
runs are compared.

The rows mix visits, inbound calls and messages, purchases and a few complaints,
so the react step does its real work: leads entering the funnel, the scoring
hits kept in step and decayed, capped scores for every customer in the batch
summed from them, promotions,
assignment with first-contact tasks, complaint cases with SLA due times, and
``interaction.recorded`` automation rules matched in SQL.

    python benchmarks/ingest_operational.py --rows 1000000 --customers 100000 \
        --batch-size 200000 --repeat 3
    python benchmarks/ingest_operational.py --rows 20000 --customers 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, best_of, report  # noqa: E402
from ingest import raw_sqlite  # noqa: E402

from crmkit import CRM  # noqa: E402

END = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
def _rule(kind: str, weight: int, cap: int, direction: str | None = None) -> dict:
    match = {"kind": kind, **({"direction": direction} if direction else {})}
    return {"match": match, "weight": weight, "cap": cap}


def _task(name: str, condition: dict, subject: str, **timing) -> dict:
    return {"name": name, "on": "interaction.recorded", "if": condition, **timing,
            "do": [{"create_task": {"subject": subject, "team": "sales"}}]}


def _is(field: str, op: str, value) -> dict:
    return {"field": field, "op": op, "value": value}


CONFIG = {
    "scoring": {"rules": [
        _rule("visit", 5, 10), _rule("call", 20, 5, "inbound"), _rule("call", 5, 5, "outbound"),
        _rule("message", 15, 5, "inbound"), _rule("message", 3, 5, "outbound"),
        _rule("purchase", 25, 5), _rule("complaint", -10, 3), _rule("survey", 5, 3),
        {"match": {"channel": "web"}, "weight": 1, "cap": 20},
        {"match": {"channel": "email", "direction": "inbound"}, "weight": 8, "cap": 5}]},
    "automation": {"rules": [
        _task("big-purchase", {"all": [_is("payload.kind", "eq", "purchase"),
                                       _is("payload.amount", "ge", 150)]}, "Thank the customer"),
        _task("inbound-call", {"all": [_is("payload.kind", "eq", "call"),
                                       _is("payload.direction", "eq", "inbound")]},
              "Call back", cooldown_hours=24),
        _task("complaint-follow-up", _is("payload.kind", "eq", "complaint"),
              "Check the complaint was resolved", wait_hours=72, unless="case.status_changed"),
        {"name": "vip-tag", "on": "interaction.recorded",
         "if": {"all": [_is("payload.kind", "eq", "purchase"), _is("payload.amount", "ge", 190)]},
         "cooldown_hours": 720, "do": [{"add_tag": "big-spender"}]},
        {"name": "qualified-hand-over", "on": "lead.qualified",
         "do": [{"assign": {"team": "sales"}}]},
    ]},
}


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


def pipeline(path: Path, data: list[dict], customers: int, operational: bool,
             batch_size: int = 5000) -> float:
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
            crm.interactions.record_many(iter(data), batch_size=batch_size)
        if operational:
            api = crm.plugin("operational")
            print(f"  leads at mql: {len(api.scores(stage='mql', limit=None))}, "
                  f"open tasks: {len(api.tasks())}, cases: {len(api.cases())}")
    return timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=5000,
                        help="rows per pipeline transaction (the baseline uses one for all)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each side, interleaved; the fastest of each is compared")
    args = parser.parse_args()
    data = rows(args.rows, args.customers)
    best = best_of(args.repeat, {
        "raw sqlite3": lambda tmp: raw_sqlite(tmp / "raw.db", data, args.customers),
        "no plugin": lambda tmp: pipeline(tmp / "core.db", data, args.customers, False,
                                          args.batch_size),
        "operational": lambda tmp: pipeline(tmp / "operational.db", data, args.customers, True,
                                            args.batch_size)})
    raw, core, ours = best["raw sqlite3"], best["no plugin"], best["operational"]
    batches = f"batches of {args.batch_size:,}, best of {args.repeat}"
    report(f"record_many, no plugin, {batches}, vs. raw sqlite3", raw, core, args.rows, goal=0.5)
    report(f"record_many with operational (10 scoring, 5 automation rules), {batches}, "
           "vs. raw sqlite3", raw, ours, args.rows, goal=0.5)


if __name__ == "__main__":
    main()
