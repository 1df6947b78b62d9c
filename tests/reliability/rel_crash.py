"""The crash-safety experiment: kill an importing child with SIGKILL at seeded points.

A kill point is a seeded number of processed batches (counted from relcheck's
``reacted`` progress lines, printed inside each batch's transaction) plus a seeded fraction of the mean batch time.  After every
kill the database must pass :func:`rel_db.integrity_problems`; the import is
then re-run until it completes, and every row must be stored exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import attrs

import rel_db
import rel_support

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
KINDS = ("purchase", "purchase", "purchase", "visit", "call", "message", "complaint")


def write_file(path: Path, rows: int, customers: int, seed: int) -> dict:
    """Write ``rows`` interactions as JSON Lines; return what the file adds up to."""
    rng = random.Random(seed)
    total = Decimal(0)
    purchases = 0
    with path.open("w", encoding="utf-8") as handle:
        for i in range(rows):
            kind = KINDS[rng.randrange(len(KINDS))]
            row = {"customer": f"C{rng.randrange(customers):05d}",
                   "occurred_at": (T0 + dt.timedelta(minutes=i)).isoformat(),
                   "kind": kind, "channel": rng.choice(["web", "store", "phone"]),
                   "external_id": f"X{i:07d}"}
            if kind == "purchase":
                amount = Decimal(rng.randrange(100, 50000)) / 100
                row["amount"] = str(amount)
                total += amount
                purchases += 1
            handle.write(json.dumps(row) + "\n")
    return {"rows": rows, "amount": total, "purchases": purchases}


def prepare(url: str, clock, customers: int) -> dict[str, str]:
    """Create the CRM with every plugin enabled and the customers; return enable failures."""
    with rel_support.open_crm(url, clock) as crm:
        failures = rel_support.enable_everything(crm)
        crm.customers.add_many({"external_id": f"C{i:05d}", "name": f"Customer {i}"}
                               for i in range(customers))
    return failures


@attrs.define
class Run:
    """One child run: how it ended."""

    killed: bool
    batches_seen: int
    returncode: int
    stderr: str


def command(mode: str, url: str, path: Path, batch: int) -> list[str]:
    """The child's command line: the API importer or the ``crmkit import`` CLI."""
    if mode == "api":
        return [sys.executable, str(rel_support.HERE / "rel_child.py"), "import", url, str(path),
                str(batch)]
    return [rel_support.crmkit_script(), "--db", url, "--plugin", "crmkit_relcheck", "import",
            "interactions", str(path), "--batch-size", str(batch)]


def run_child(cmd: list[str], kill_after: int | None, fraction: float, tmp: Path) -> Run:
    """Run the child; with ``kill_after``, SIGKILL it after that many batches plus a sub-batch delay."""
    err_path = tmp / f"child-{time.monotonic_ns()}.err"
    with err_path.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                env=rel_support.child_env(RELCHECK_PROGRESS="1"))
        seen, stamps = 0, [time.monotonic()]
        killed = False
        try:
            if kill_after is not None:
                while seen < kill_after:
                    line = proc.stdout.readline()
                    if not line:
                        break
                    if line.startswith("reacted"):
                        seen += 1
                        stamps.append(time.monotonic())
                gaps = [b - a for a, b in zip(stamps[1:], stamps[2:])]
                mean = sum(gaps) / len(gaps) if gaps else 0.05
                time.sleep(fraction * mean)  # the seeded sub-batch delay of the kill point
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
            for line in proc.stdout:
                seen += line.startswith("reacted")
        finally:
            proc.stdout.close()
            proc.wait()
    return Run(killed, seen, proc.returncode, err_path.read_text())


def stored(url: str) -> int:
    """How many interactions are stored."""
    return rel_db.count(url, "SELECT count(*) FROM interactions")


def crash_and_recover(url: str, mode: str, path: Path, expected: dict, batch: int, kills: int,
                      seed: int, tmp: Path) -> list[dict]:
    """Kill the import at ``kills`` seeded mid-import points, checking integrity after each.

    Returns a log of the kills.  Raises AssertionError on the first integrity
    problem, naming the kill point.
    """
    rng = random.Random(seed)
    log = []
    attempts = 0
    while sum(1 for k in log if k["mid_import"]) < kills:
        attempts += 1
        assert attempts <= kills * 3, f"could not land {kills} mid-import kills: {log}"
        before = stored(url)
        remaining = max(1, (expected["rows"] - before) // batch)
        after = rng.randrange(0, max(1, remaining * 2 // 3))
        fraction = rng.random()
        run = run_child(command(mode, url, path, batch), after, fraction, tmp)
        now = stored(url)
        entry = {"after_batches": after, "fraction": round(fraction, 3), "killed": run.killed,
                 "stored_before": before, "stored_after": now,
                 "mid_import": run.killed and now < expected["rows"]}
        log.append(entry)
        assert run.killed or run.returncode == 0, f"child failed on its own: {run.stderr[-2000:]}"
        problems = rel_db.integrity_problems(url)
        assert problems == [], f"after kill {entry}: {problems}"
    return log


def complete(url: str, mode: str, path: Path, batch: int, tmp: Path) -> Run:
    """Re-run the import to completion."""
    run = run_child(command(mode, url, path, batch), None, 0.0, tmp)
    assert run.returncode == 0, f"re-run failed: {run.stderr[-2000:]}"
    return run


def exactly_once_problems(url: str, expected: dict) -> list[str]:
    """Every row of the file stored exactly once, with its react rows, after the final run."""
    problems = rel_db.integrity_problems(url)
    checks = {
        "interactions": ("SELECT count(*) FROM interactions", expected["rows"]),
        "distinct external ids": ("SELECT count(DISTINCT external_id) FROM interactions",
                                  expected["rows"]),
        "relcheck react rows": ("SELECT count(*) FROM relcheck_reacts", expected["rows"]),
        "relcheck counters": ("SELECT coalesce(sum(reacts), 0) FROM relcheck_counts",
                              expected["rows"]),
        "purchase amount": ("SELECT sum(amount) FROM interactions WHERE kind = 'purchase'",
                            expected["amount"] * 10000),
    }
    if "loyalty" in rel_support.existing_builtins():
        checks["loyalty earn rows"] = (
            "SELECT count(*) FROM loyalty_ledger WHERE type = 'earn' AND source = 'purchase'",
            expected["purchases"])
    for what, (sql, want) in checks.items():
        got = rel_db.count(url, sql)
        if got != want:
            problems.append(f"{what}: {got}, expected {want}")
    return problems
