"""Customer 360 page benchmark: the web app's page against the API calls it is built from.

    python benchmarks/web360.py --customers 2000 --interactions 2000 --repeat 30 [--pg]

A database (SQLite in a temporary folder, or a throwaway PostgreSQL server with ``--pg``)
with every installed plugin enabled, ``--customers`` customers with a few purchases each and
one customer, C000000, with ``--interactions`` interactions of every kind the plugins read
(purchases, surveys, complaints, visits, notes), a lead, an opportunity, a task and a case,
a kept CLV fit and one run of the sweep (as a deployed CRM has: the card reads both).
A real ``crmkit serve`` process on 127.0.0.1 answers both sides over HTTP, one request at a
time from one httpx client:

* the page: ``GET /customers/C000000`` signed in (profile, consent, the newest 200
  timeline entries and every plugin's card);
* the API: ``GET /api/v1/customers/C000000`` + ``GET /api/v1/customers/C000000/timeline?
  limit=200`` with a token of the same member.

Each side is warmed up, then they run ``--repeat`` times interleaved; printed: the median of
each side and the ratio page ÷ API (goal ≤ 3×).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from api import free_port, start, stop  # the HTTP API benchmark's server helpers

UTC = dt.timezone.utc
TARGET = "C000000"
PASSWORD = "benchmark password"
WINDOW = 200
"""The timeline entries the 360 page reads (``crmkit.web.pages.TIMELINE_WINDOW``)."""
KINDS = ("purchase", "purchase", "purchase", "survey", "complaint", "visit", "note")


def prepare(url: str, customers: int, interactions: int, seed: int) -> str:
    """Schema, every installed plugin enabled, the customers and their interactions, and a
    manager with a password and a token; returns the token's secret."""
    from crmkit import CRM, FixedClock

    now = dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    rng = random.Random(seed)
    with CRM.open(url, create=True, clock=FixedClock(now)) as crm:
        names = [p.name for p in crm.plugins.list() if p.status != "broken"]
        for name in sorted(names, key=lambda n: n not in ("analytical",)):
            crm.plugins.enable(name)
        crm.customers.add_many({"external_id": f"C{n:06d}", "name": f"Customer {n}",
                                "email": f"c{n}@example.com"} for n in range(customers))

        def moment() -> dt.datetime:
            return now - dt.timedelta(minutes=rng.randrange(1, 700 * 24 * 60))

        def row(customer: str, kind: str) -> dict:
            found = {"customer": customer, "occurred_at": moment(), "kind": kind,
                     "channel": "web"}
            if kind == "purchase":
                found["amount"] = f"{rng.randrange(500, 30000) / 100:.2f}"
            elif kind == "survey":
                found["payload"] = {"nps": rng.randrange(11), "csat": rng.randrange(1, 6)}
            elif kind in ("complaint", "note"):
                found["payload"] = {"text": "late delivery, please call back"}
            return found

        def history(customer: str) -> list[dict]:
            """1–8 purchases within a random lifetime (customers drop out: the CLV models fit)."""
            first = moment()
            alive = dt.timedelta(days=rng.expovariate(1 / 150))
            found = []
            for _ in range(rng.randint(1, 8)):
                found.append(row(customer, "purchase"))
                found[-1]["occurred_at"] = min(first + alive * rng.random(), now)
            return found

        crm.interactions.record_many(
            [r for n in range(1, customers) for r in history(f"C{n:06d}")]
            + [row(TARGET, rng.choice(KINDS)) for _ in range(interactions)])
        crm.staff.add("bench", "Benchmark", "web", role="manager")
        operational = crm.plugin("operational")
        opportunity = operational.create_opportunity(TARGET, "Renewal", "1200")
        operational.move_opportunity(opportunity, "proposal")
        operational.create_task(TARGET, "Call back", "bench", now + dt.timedelta(days=2))
        operational.open_case(TARGET, "Late delivery")
        crm.plugin("analytical").clv_fit(keep=True)
        crm.sweep()  # as the scheduled sweep would: stored lifecycle stages and RFM scores
        crm.staff.set_password("bench", PASSWORD)
        _, secret = crm.tokens.create("bench", name="benchmark")
        print(f"plugins enabled: {', '.join(crm.enabled_plugins())}")
    return secret


def timed(get, path: str) -> float:
    started = time.perf_counter()
    answer = get(path)
    seconds = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--interactions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg", action="store_true", help="a throwaway PostgreSQL server")
    options = parser.parse_args()

    import httpx

    with tempfile.TemporaryDirectory() as folder:
        server = None
        if options.pg:
            from crmkit.devtools.testing import PostgresServer

            server = PostgresServer().start()
            url = server.create_database()
        else:
            url = f"sqlite:///{folder}/web360.db"
        try:
            secret = prepare(url, options.customers, options.interactions, options.seed)
            port = free_port()
            process = start([str(Path(sys.executable).parent / "crmkit"), "--db", url, "serve",
                             "--port", str(port)], port, Path(folder) / "serve.log")
            try:
                base = f"http://127.0.0.1:{port}"
                page = httpx.Client(base_url=base, timeout=120)
                form = page.get("/login").text
                token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
                signed = page.post("/login", data={"csrf_token": token, "username": "bench",
                                                   "password": PASSWORD})
                if signed.status_code != 303:
                    raise SystemExit(f"sign-in failed: {signed.status_code} {signed.text[:300]}")
                api = httpx.Client(base_url=base, timeout=120,
                                   headers={"Authorization": f"Bearer {secret}"})
                paths = (f"/customers/{TARGET}", f"/api/v1/customers/{TARGET}",
                         f"/api/v1/customers/{TARGET}/timeline?limit={WINDOW}")
                cards = re.findall(r'data-panel="([^"]+)"', page.get(paths[0]).text)
                print(f"cards on the page: {', '.join(cards)}")
                for _ in range(3):  # warm-up: connections, caches, imported plugin parts
                    timed(page.get, paths[0])
                    timed(api.get, paths[1]) + timed(api.get, paths[2])
                pages, apis = [], []
                for _ in range(options.repeat):
                    pages.append(timed(page.get, paths[0]))
                    apis.append(timed(api.get, paths[1]) + timed(api.get, paths[2]))
            finally:
                stop(process)
        finally:
            if server is not None:
                server.stop()
    page_median, api_median = statistics.median(pages), statistics.median(apis)
    print(f"360 page:            median {page_median * 1000:8.1f} ms over {options.repeat} runs")
    print(f"API customer + timeline: median {api_median * 1000:8.1f} ms")
    print(f"ratio page / API: {page_median / api_median:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
