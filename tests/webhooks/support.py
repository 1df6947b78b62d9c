"""Real processes for webhook tests: a receiver on 127.0.0.1 (receiver.py) and ``crmkit worker``.

Readiness is polled with a deadline, never slept for.  Used by tests/webhooks (through its
fixtures) and by the HTTP API tests (``from webhooks.support import Receiver``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

RECEIVER = Path(__file__).with_name("receiver.py")
DEADLINE_S = 60.0
T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
SECRET = "test-secret-0123456789abcdef"


def wait_for(condition, what: str, deadline_s: float = DEADLINE_S):
    """Poll ``condition()`` until it returns something true; fail after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(0.02)  # a polling interval, not a wait for something to happen


def valid_delivery(request: dict, secret: str = SECRET) -> bool:
    """Whether a recorded webhook delivery (or webhook message) verifies
    (crmkit.webhooks.verify) at the time its X-Crmkit-Timestamp says it was sent."""
    from crmkit.webhooks import verify

    headers = request["headers"]
    return verify(secret, headers, request["body"].encode("utf-8"),
                  now=int(headers["x-crmkit-timestamp"]))


class Receiver:
    """A running receiver.py: its URL, its request log, and release of a held request."""

    def __init__(self, tmp_path: Path, fail: int = 0, hold: int = 0):
        port_file = tmp_path / f"receiver-{os.getpid()}-{id(self)}.port"
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(port_file), "--fail", str(fail),
             "--hold", str(hold)])
        port = wait_for(lambda: port_file.exists() and port_file.read_text(), "the receiver's port")
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/hook"
        wait_for(self._answers, "the receiver to answer")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the receiver exited with {self.process.returncode}")
        try:
            return httpx.get(f"{self.base}/_log", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> list[dict]:
        """The requests received so far, in arrival order (``path``, ``headers``, ``body``)."""
        return json.loads(httpx.get(f"{self.base}/_log", timeout=5).text)

    def release(self) -> None:
        httpx.post(f"{self.base}/_release", timeout=5)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def core_webhooks(crm, **settings) -> None:
    """Set the given keys of the core config's ``webhooks``."""
    config = dict(crm.core_config)
    config["webhooks"] = {**config["webhooks"], **settings}
    crm.plugins.configure_core(config)


def allow_loopback(crm) -> None:
    """Let webhooks target this machine (127.0.0.1), where the tests' receivers listen."""
    core_webhooks(crm, allowed_networks=["127.0.0.1/32"])


def worker_command(*args: str) -> list[str]:
    """The ``crmkit worker`` command, run by this interpreter (as the console script does)."""
    return [sys.executable, "-c", "import sys; from crmkit.cli import main; sys.exit(main())",
            "worker", *args]


def worker_env(crm_url: str, now: dt.datetime) -> dict[str, str]:
    return {**os.environ, "CRMKIT_DATABASE_URL": crm_url, "CRMKIT_NOW": now.isoformat()}


@contextlib.contextmanager
def slowly_checked_campaigns(database: Path | str, clock):
    """A CRM on ``database`` (a SQLite file's path, which has one writer at a time, or a
    database URL) with campaigns enabled and a webhook host name lookup allowed 300 s (core
    config webhooks.timeout_seconds), for checks of a webhook URL (campaigns'
    ``webhook.url``, a webhook added) held by a :class:`SlowResolver` (tests/conftest.py)."""
    from crmkit import CRM

    url = database if isinstance(database, str) else f"sqlite:///{database}"
    with CRM.open(url, clock=clock, create=True) as crm:
        config = dict(crm.core_config)
        crm.plugins.configure_core({**config, "webhooks": {**config["webhooks"],
                                                           "timeout_seconds": 300}})
        crm.plugins.enable("campaigns")
        yield crm


def writes_while_checking(crm) -> None:
    """What runs while a webhook URL (campaigns' ``webhook.url``, a webhook added) is being
    checked (:meth:`SlowResolver.while_held` in tests/conftest.py): another writer completes,
    and the URL is not stored yet."""
    crm.customers.add("C1", "Ada")
    assert crm.plugins.config("campaigns")["webhook"]["url"] is None
    assert crm.webhooks.list() == []


def assert_webhook_added(crm, url: str, actor: str, command: str) -> None:
    """The webhooks are ``url`` alone, and the newest webhook creation audited was ``actor``'s,
    by ``command``."""
    from crmkit.services.audit import AuditLog

    assert [hook.url for hook in crm.webhooks.list()] == [url]
    entry = AuditLog(crm).list(action="create", table="webhooks")[0]
    assert (entry.actor, entry.command) == (actor, command)
