"""Fixtures of the delivery tests: a real SMTP server process (smtp_server.py); the webhook
tests' HTTP receiver and ``crmkit worker`` processes (their fixtures).  Each process is
killed at the end of the test that started it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from webhooks.conftest import receiver, worker  # noqa: F401  (the same fixtures)
from webhooks.support import wait_for

SMTP_SERVER = Path(__file__).with_name("smtp_server.py")


class SmtpServer:
    """A running smtp_server.py: its SMTP port, its message log, release of a held message."""

    def __init__(self, tmp_path: Path, *options: str):
        port_file = tmp_path / f"smtp-{os.getpid()}-{id(self)}.json"
        self.process = subprocess.Popen([sys.executable, str(SMTP_SERVER), str(port_file),
                                         *options])
        ports = json.loads(wait_for(lambda: port_file.exists() and port_file.read_text(),
                                    "the SMTP server's ports"))
        self.port = ports["smtp"]
        self.control = f"http://127.0.0.1:{ports['http']}"
        wait_for(self._answers, "the SMTP server to answer")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the SMTP server exited with {self.process.returncode}")
        try:
            return httpx.get(f"{self.control}/_count", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> list[dict]:
        """The messages received so far, in arrival order."""
        return httpx.get(f"{self.control}/_log", timeout=5).json()

    def count(self) -> int:
        return httpx.get(f"{self.control}/_count", timeout=5).json()

    def release(self) -> None:
        httpx.post(f"{self.control}/_release", timeout=5)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def smtp_server(tmp_path):
    """``smtp_server(*options)`` starts an SMTP server process; all are stopped afterwards."""
    started: list[SmtpServer] = []

    def start(*options: str) -> SmtpServer:
        started.append(SmtpServer(tmp_path, *options))
        return started[-1]

    yield start
    for item in started:
        item.stop()
