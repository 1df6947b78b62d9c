"""HTTP API benchmark: ``crmkit serve`` against a bare Starlette app running the same SQL.

    python benchmarks/api.py --customers 1000 --requests 5000 --clients 20 [--pg]

Both servers run as uvicorn processes on 127.0.0.1 on the same database (every installed
plugin enabled for crmkit).  20 concurrent httpx clients send 5,000 ``GET
/api/v1/customers/{id}`` and 5,000 single-interaction ``POST /api/v1/interactions`` to
each; the bare app answers them with one SELECT (and one INSERT) through SQLAlchemy Core,
no authentication, validation, hooks or audit.  Printed: throughput of each side, the
ratio crmkit ÷ bare (goals: reads ≥ 0.5×, writes ≥ 0.3×), p50/p99 latency and the error
count (goal: zero).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

UTC = dt.timezone.utc
MONEY_UNITS = 10_000
"""Money is stored as an integer count of 1/10,000 units (crmkit's MONEY_SCALE)."""


# -- the bare application (run in its own process with --bare-server) ------------------------


def bare_app(url: str):
    """A Starlette app answering the two benchmarked routes with plain SQLAlchemy Core."""
    from sqlalchemy import create_engine, text
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    engine = create_engine(url, pool_size=20, max_overflow=20)
    columns = ("external_id, type, name, email, phone, preferred_channel, lifecycle_stage, "
               "tags, attributes, created_at, updated_at")

    def get_customer(request: Request):
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT {columns} FROM customers WHERE external_id = :e"),
                               {"e": request.path_params["external_id"]}).mappings().first()
        if row is None:
            return JSONResponse({"detail": "not found"}, 404)
        return JSONResponse({k: (v if isinstance(v, (str, int, type(None))) else str(v))
                             for k, v in row.items()})

    async def post_interaction(request: Request):
        body = await request.json()
        return await asyncio.to_thread(_insert, body)

    def _insert(body):
        now = dt.datetime.now(UTC)
        with engine.begin() as conn:
            customer = conn.execute(text("SELECT id FROM customers WHERE external_id = :e"),
                                    {"e": body["customer"]}).scalar()
            conn.execute(text(
                "INSERT INTO interactions (customer_id, occurred_at, kind, direction, amount, "
                "currency, recorded_at) VALUES (:c, :o, :k, 'inbound', :a, 'USD', :r)"),
                {"c": customer, "o": dt.datetime.fromisoformat(body["occurred_at"]),
                 "k": body["kind"], "a": int(Decimal(body["amount"]) * MONEY_UNITS), "r": now})
        return JSONResponse({"customer": body["customer"]}, 201)

    return Starlette(routes=[
        Route("/api/v1/customers/{external_id}", get_customer, methods=["GET"]),
        Route("/api/v1/interactions", post_interaction, methods=["POST"]),
        Route("/health", lambda request: JSONResponse({"status": "ok"}), methods=["GET"]),
    ])


# -- the load ------------------------------------------------------------------------------


async def load(base: str, token: str | None, requests: list[tuple[str, str, dict | None]],
               clients: int) -> tuple[float, list[float], int]:
    """Send ``requests`` with ``clients`` concurrent connections; (seconds, latencies, errors)."""
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    errors = 0
    first_error: list[str] = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as session:
            while not queue.empty():
                method, path, body = queue.get_nowait()
                start = time.perf_counter()
                try:
                    answer = await session.request(method, path, json=body)
                    if answer.status_code >= 300:
                        errors += 1
                        first_error[:] = first_error or [f"{answer.status_code} {answer.text}"]
                except httpx.HTTPError as exc:
                    errors += 1
                    first_error[:] = first_error or [repr(exc)]
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    if first_error:
        print(f"  first error: {first_error[0][:300]}")
    return time.perf_counter() - start, latencies, errors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], port: int, log: Path) -> subprocess.Popen:
    """Start a server process (its output to ``log``) and wait (polling /health, 60 s
    deadline) until it answers."""
    import httpx

    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{command} did not start within 60 s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def prepare(url: str, customers: int) -> str:
    """Schema, every installed plugin enabled, customers, an admin token; returns the secret."""
    from crmkit import CRM

    with CRM.open(url, create=True) as crm:
        names = [p.name for p in crm.plugins.list() if p.status != "broken"]
        pending = sorted(names, key=lambda n: n not in ("analytical",))
        for name in pending:
            crm.plugins.enable(name)
        crm.customers.add_many({"external_id": f"C{n:06d}", "name": f"Customer {n}",
                                "email": f"c{n}@example.com"} for n in range(customers))
        crm.staff.add("bench", "Benchmark", "api", role="admin")
        _, secret = crm.tokens.create("bench", name="benchmark")
        print(f"plugins enabled: {', '.join(crm.enabled_plugins())}")
    return secret


def workload(customers: int, count: int, seed: int):
    rng = random.Random(seed)
    reads = [("GET", f"/api/v1/customers/C{rng.randrange(customers):06d}", None)
             for _ in range(count)]
    writes = [("POST", "/api/v1/interactions", {
        "customer": f"C{rng.randrange(customers):06d}", "kind": "visit",
        "occurred_at": (dt.datetime(2024, 1, 1, tzinfo=UTC)
                        + dt.timedelta(minutes=rng.randrange(500_000))).isoformat(),
        "amount": f"{rng.randrange(1, 50000) / 100:.2f}"}) for _ in range(count)]
    return reads, writes


def report(name: str, seconds: float, latencies: list[float], errors: int) -> float:
    rate = len(latencies) / seconds
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"  {name:<14} {rate:8.0f} req/s   p50 {statistics.median(ordered) * 1000:6.1f} ms"
          f"   p99 {p99 * 1000:6.1f} ms   errors {errors}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg", action="store_true", help="a throwaway PostgreSQL server")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        import uvicorn

        uvicorn.run(bare_app(args.url), host="127.0.0.1", port=args.port, log_level="warning",
                    workers=1)
        return

    server = None
    with tempfile.TemporaryDirectory() as folder:
        if args.pg:
            from crmkit.devtools.testing import PostgresServer

            server = PostgresServer().start()
            url = server.create_database()
        else:
            url = f"sqlite:///{Path(folder) / 'api.db'}"
        try:
            token = prepare(url, args.customers)
            reads, writes = workload(args.customers, args.requests, seed=1)
            crmkit_port, bare_port = free_port(), free_port()
            crmkit = start([str(Path(sys.executable).with_name("crmkit")), "--db", url, "serve",
                            "--port", str(crmkit_port), "--workers", str(args.workers)],
                           crmkit_port, Path(folder) / "crmkit.log")
            bare = start([sys.executable, __file__, "--bare-server", "--url", url,
                          "--port", str(bare_port)], bare_port, Path(folder) / "bare.log")
            rates: dict[str, float] = {}
            try:
                print(f"{args.requests} requests per side, {args.clients} clients, "
                      f"{'PostgreSQL' if args.pg else 'SQLite'}")
                for kind, batch in (("reads", reads), ("writes", writes)):
                    for side, port, secret in (("bare", bare_port, None),
                                               ("crmkit", crmkit_port, token)):
                        result = asyncio.run(load(f"http://127.0.0.1:{port}", secret, batch,
                                                  args.clients))
                        rates[f"{side} {kind}"] = report(f"{side} {kind}", *result)
            finally:
                stop(crmkit)
                stop(bare)
                for name in ("crmkit.log", "bare.log"):
                    text = (Path(folder) / name).read_text(errors="replace")
                    if "Traceback" in text or "ERROR" in text:
                        print(f"{name} (tail):\n{text[-2000:]}")
            print(json.dumps({
                "reads ratio": round(rates["crmkit reads"] / rates["bare reads"], 2),
                "reads goal": 0.5,
                "writes ratio": round(rates["crmkit writes"] / rates["bare writes"], 2),
                "writes goal": 0.3}))
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
