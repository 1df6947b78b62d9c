"""Sending benchmark: ``crmkit worker --once`` sends queued emails to a local SMTP server.

    python benchmarks/campaigns_send.py --messages 5000 --connections 4 [--db URL]

A fresh SQLite database (or the empty database at ``--db``) gets the campaigns plugin, its
email channel pointed at an aiosmtpd server process on 127.0.0.1 (tests/messaging/
smtp_server.py, counting only) and ``--messages`` queued emails to as many customers.  Then
``crmkit worker --once`` (the command users run) is timed from start to exit: it claims the
messages in batches, sends them over ``--connections`` SMTP connections and records each
outcome.  Printed: messages per second, and the ratio to the goal (≥ 500 messages/s with 4
connections); and the CPU time per message of the worker and of the SMTP server, which does
not depend on what else the machine is doing (on a busy machine the rate does).  The server
must have received each message once and every message must be recorded as sent, or the run
fails.

In the same run, as the yardstick of what the machine allows at the moment, **plain
smtplib** sends as many emails of the same size to the same server over the same number of
connections (one thread and one connection each, the emails built with ``MIMEText``; no
database, no start-up): a loaded machine shows in both figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from email.mime.text import MIMEText
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, child_env  # noqa: E402

GOAL = 500.0
"""Messages per second the worker must send with 4 connections."""
SMTP_SERVER = Path(__file__).resolve().parent.parent / "tests" / "messaging" / "smtp_server.py"
NOW = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def start_smtp_server(folder: Path) -> tuple[subprocess.Popen, int, str]:
    """The counting SMTP server process, its SMTP port and its control URL."""
    port_file = folder / "smtp.json"
    process = subprocess.Popen([sys.executable, str(SMTP_SERVER), str(port_file),
                                "--count-only"])
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the SMTP server did not start")
        time.sleep(0.05)  # polling for the port file, not a wait for a result
    ports = json.loads(port_file.read_text())
    return process, ports["smtp"], f"http://127.0.0.1:{ports['http']}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare(url: str, messages: int, port: int, connections: int) -> None:
    from crmkit import CRM
    from crmkit.clock import FixedClock
    from crmkit.plugin import Outgoing

    with CRM.open(url, clock=FixedClock(NOW), create=True) as crm:
        crm.plugins.enable("campaigns", {"email": {
            "host": "127.0.0.1", "port": port, "sender": "news@shop.example",
            "connections": connections}})
        crm.plugins.configure_core({**crm.core_config, "public_url": "https://crm.example.com"})
        crm.customers.add_many([{"external_id": f"C{n}", "name": f"Customer {n}",
                                 "email": f"c{n}@example.com"} for n in range(messages)])
        crm.messages.enqueue([
            Outgoing("email", f"c{n}@example.com", f"Hello Customer {n},\n\nOur spring offer.",
                     subject="Spring offer", customer=f"C{n}", meta={"campaign": "spring"})
            for n in range(messages)])


def plain_smtplib(port: int, messages: int, connections: int) -> float:
    """Seconds plain smtplib takes to send ``messages`` emails over ``connections`` threads."""
    numbers = iter(range(messages))
    lock = threading.Lock()

    def connection() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            while True:
                with lock:
                    n = next(numbers, None)
                if n is None:
                    return
                mail = MIMEText(f"Hello Customer {n},\n\nOur spring offer.")
                mail["From"], mail["To"] = "news@shop.example", f"c{n}@example.com"
                mail["Subject"], mail["Message-ID"] = "Spring offer", f"<{n}@baseline.example>"
                smtp.send_message(mail)

    threads = [threading.Thread(target=connection) for _ in range(connections)]
    with Timer() as timer:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--db", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    import httpx

    from crmkit import CRM

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = args.db or f"sqlite:///{folder / 'crm.db'}"
        server, port, control = start_smtp_server(folder)
        try:
            prepare(url, args.messages, port, args.connections)
            env = {**child_env(), "CRMKIT_DATABASE_URL": url, "CRMKIT_NOW": NOW.isoformat()}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            with Timer() as timer:
                done = subprocess.run([str(Path(sys.executable).parent / "crmkit"), "worker",
                                       "--once", "--batch-size", str(args.batch_size)],
                                      env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"crmkit worker failed: {done.stderr.strip()}")
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            worker_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            received = httpx.get(f"{control}/_count", timeout=10).json()
            server_cpu = cpu_seconds(server.pid)
            baseline = plain_smtplib(port, args.messages, args.connections)
            if httpx.get(f"{control}/_count", timeout=10).json() != received + args.messages:
                raise SystemExit("plain smtplib: the server did not receive every message")
        finally:
            server.kill()
            server.wait()
        with CRM.open(url) as crm:
            sent = len(crm.messages.list(status="sent", limit=None))
    if received != args.messages or sent != args.messages:
        raise SystemExit(f"expected {args.messages} messages sent once each: the server "
                         f"received {received}, {sent} are recorded as sent")
    rate = args.messages / timer.seconds
    print(f"crmkit worker --once sent {args.messages} emails over {args.connections} SMTP "
          f"connections in {timer.seconds:.2f} s: {rate:,.0f} messages/s")
    print(f"ratio to the goal ({GOAL:.0f} messages/s): {rate / GOAL:.2f}x "
          f"({'met' if rate >= GOAL else 'NOT met'})")
    print(f"plain smtplib (no database, no start-up) sent as many over {args.connections} "
          f"connections in {baseline:.2f} s: {args.messages / baseline:,.0f} messages/s; "
          f"crmkit's rate is {rate * baseline / args.messages:.2f}x of it")
    per = 1000 / args.messages
    print(f"CPU per message: worker {worker_cpu * per:.2f} ms (its start included), SMTP "
          f"server {server_cpu * per:.2f} ms; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
